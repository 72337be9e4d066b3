/**
 * Starts the Docker test services by hand and leaves them running, for trying things out:
 *   node scripts/run-ts.mjs test/helpers/start-services.ts
 * prints a hosts.yaml for them (hosts a, b and b-ssh).
 */
import { startServices } from '../global-setup.js';
import { services, testHosts } from './docker-services.js';

await startServices();
const hosts = testHosts(services());
const yaml = Object.values(hosts)
  .map((h) => [`  ${h.name}:`, `    docker: ${h.docker}`, ...(h.identity_file ? [`    identity_file: ${h.identity_file}`, `    known_hosts: ${h.known_hosts}`] : []), `    labels: { ${Object.entries(h.labels).map(([k, v]) => `${k}: ${v}`).join(', ')} }`, `    capacity: { slots: ${h.capacity.slots} }`].join('\n'))
  .join('\n');
process.stdout.write(`version: 1\nhosts:\n${yaml}\n`);
