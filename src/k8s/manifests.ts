// The VolumeSnapshotContent and VolumeSnapshot that let a GKE cluster use the image as a pre-provisioned
// snapshot (the Go tool's --k8s-manifests-filepath). Names are validated GCE/k8s names, so no quoting is needed.
// A data disk's (`data`) go on to a ReadOnlyMany PersistentVolumeClaim restored from the image, the route that
// works where hostPath volumes are refused (Autopilot): docs/architecture.md, Data disks.
export function k8sManifests(project: string, imageName: string, namespace: string, data?: { diskSizeGb: number }): string {
  if (data) return dataManifests(project, imageName, namespace, data.diskSizeGb);
  return `apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotContent
metadata:
  name: ${imageName}-vsc
spec:
  deletionPolicy: Retain
  driver: pd.csi.storage.gke.io
  source:
    snapshotHandle: projects/${project}/global/images/${imageName}
  sourceVolumeMode: Filesystem
  volumeSnapshotRef:
    name: ${imageName}-vs
    namespace: ${namespace}
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata:
  name: ${imageName}-vs
  namespace: ${namespace}
spec:
  source:
    volumeSnapshotContentName: ${imageName}-vsc
`;
}

/** The PersistentVolumeClaim a data disk's manifests end in: pods mount it read-only by this name. */
export function dataClaimName(imageName: string): string {
  return `${imageName}-data`;
}

function dataManifests(project: string, imageName: string, namespace: string, diskSizeGb: number): string {
  return `apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata:
  name: ${imageName}-images
driver: pd.csi.storage.gke.io
deletionPolicy: Retain
parameters:
  snapshot-type: images
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotContent
metadata:
  name: ${imageName}-vsc
spec:
  deletionPolicy: Retain
  driver: pd.csi.storage.gke.io
  volumeSnapshotClassName: ${imageName}-images
  source:
    snapshotHandle: projects/${project}/global/images/${imageName}
  sourceVolumeMode: Filesystem
  volumeSnapshotRef:
    name: ${imageName}-vs
    namespace: ${namespace}
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata:
  name: ${imageName}-vs
  namespace: ${namespace}
spec:
  volumeSnapshotClassName: ${imageName}-images
  source:
    volumeSnapshotContentName: ${imageName}-vsc
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: ${dataClaimName(imageName)}
  namespace: ${namespace}
spec:
  accessModes:
  - ReadOnlyMany
  dataSource:
    apiGroup: snapshot.storage.k8s.io
    kind: VolumeSnapshot
    name: ${imageName}-vs
  resources:
    requests:
      storage: ${diskSizeGb}Gi
`;
}
