// The VolumeSnapshotContent and VolumeSnapshot that let a GKE cluster use the image as a pre-provisioned
// snapshot (the Go tool's --k8s-manifests-filepath). Names are validated GCE/k8s names, so no quoting is needed.
export function k8sManifests(project: string, imageName: string, namespace: string): string {
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
