/**
 * The demo's approver at the keyboard. The demo's registry policy (fixtures/demo/registry-policy.yaml)
 * names two identities for its four roles: policy:demo, which answers headless runs, and
 * demo-approver@localhost, whose ECDSA P-256 key this makes on first use beside the demo's other
 * keys (build/keys/demo-approver.pem, mode 600, and its .pub). In the workbench, the registry
 * screen signs approvals with it, as that identity: a stand-in for the named people of a team's
 * policy, recorded as exactly what it is.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningKey } from '../src/pack/signing.js';

export const DEMO_APPROVER = 'demo-approver@localhost';

/** Makes the key if need be; sets PADDOCK_APPROVER_KEY and PADDOCK_APPROVER_IDENTITY unless already set. */
export function ensureDemoApprover(keysDir: string): { keyFile: string; identity: string } {
  const keyFile = join(keysDir, 'demo-approver.pem');
  if (!existsSync(keyFile) || !existsSync(`${keyFile}.pub`)) {
    mkdirSync(keysDir, { recursive: true });
    const k = generateSigningKey();
    writeFileSync(keyFile, k.privatePem, { mode: 0o600 });
    writeFileSync(`${keyFile}.pub`, k.publicPem);
  }
  process.env.PADDOCK_APPROVER_KEY ??= keyFile;
  process.env.PADDOCK_APPROVER_IDENTITY ??= DEMO_APPROVER;
  return { keyFile: process.env.PADDOCK_APPROVER_KEY, identity: process.env.PADDOCK_APPROVER_IDENTITY };
}
