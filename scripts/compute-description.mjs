// Cuts the compute API description down to the services of the clients the tool uses and writes it next to the
// compiled module that loads it (dist/gcp/compute-description.json; src/gcp/compute-description.ts says why).
import { COMPUTE_CLIENTS } from '../dist/gcp/clients.js';
import { writeCompactDescription } from '../dist/gcp/compute-description.js';

const compact = writeCompactDescription('dist/gcp', COMPUTE_CLIENTS);
console.log(`compute API description: ${compact.services.length} services, cut from @google-cloud/compute ${compact.computeVersion}`);
