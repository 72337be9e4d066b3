/**
 * Secrets never enter the run store. A recipe's step `env:` may hold a token; the store keeps the
 * recipe text, events, logs and errors of every run forever (append-only), so anything that looks
 * like a secret is replaced by REDACTED before it is written:
 *
 * - in the recipe text: an `env:` value whose name matches SECRET_NAME (TOKEN, SECRET, PASSWORD,
 *   KEY, CREDENTIAL) or whose value looks like a secret (looksSecret: AWS keys, GitHub tokens,
 *   private keys, long high-entropy strings);
 * - in events, logs and errors: every value the run's steps were given as such a secret, or through
 *   `{from_env: NAME}` (registered with RunStore.addSecrets when the step starts), wherever it
 *   shows up (a step that echoes its token).
 *
 * The step itself always gets the real value: `{from_env: NAME}` is read from paddock's
 * environment when the step starts; a literal secret is read from the recipe file again when a
 * run is resumed (the store has only its redacted text).
 */
import { parseDocument, isMap, isScalar, isSeq } from 'yaml';

export const REDACTED = '[redacted]';

/** Names of environment variables whose values are secrets. */
export const SECRET_NAME = /TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL/i;

/** Shannon entropy of a string, in bits per character. */
function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) h -= (n / s.length) * Math.log2(n / s.length);
  return h;
}

/**
 * Whether a value looks like a secret whatever its name: an AWS access key id, a GitHub or Slack
 * token, a PEM private key, a JWT, or a long token-like string of high entropy that mixes upper
 * case, lower case and digits (paths, versions and sha256 hex digests do not).
 */
export function looksSecret(value: string): boolean {
  if (/\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/.test(value)) return true;
  if (/\bgh[pousr]_[A-Za-z0-9]{30,}\b/.test(value) || /\bxox[abprs]-[A-Za-z0-9-]{10,}/.test(value)) return true;
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(value)) return true;
  if (/^eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}$/.test(value)) return true;
  if (value.length >= 24 && /^[A-Za-z0-9+/=_.~-]+$/.test(value) && /[a-z]/.test(value) && /[A-Z]/.test(value) && /[0-9]/.test(value)) {
    return entropy(value) >= 4;
  }
  return false;
}

/** Whether an environment variable, by its name or value, is a secret. */
export function isSecretEnv(name: string, value: string): boolean {
  return SECRET_NAME.test(name) || looksSecret(value);
}

/** One redacted env value of a recipe: which step, which variable. */
export interface RedactedEnv {
  step: string;
  name: string;
}

/**
 * The recipe text with the secret `env:` values of its steps replaced by REDACTED. A text with
 * nothing to redact comes back as it was, byte for byte (the common case); one with secrets is
 * re-serialised (comments kept, layout normalised). A text that is not YAML comes back as it
 * was: it cannot have been loaded as a recipe either.
 */
export function redactRecipeText(text: string): { text: string; redacted: RedactedEnv[] } {
  const redacted: RedactedEnv[] = [];
  let doc;
  try {
    doc = parseDocument(text);
  } catch {
    return { text, redacted };
  }
  if (doc.errors.length) return { text, redacted };
  const stages = doc.get('stages');
  if (!isMap(stages)) return { text, redacted };
  for (const stage of stages.items) {
    if (!isSeq(stage.value)) continue;
    for (const step of stage.value.items) {
      if (!isMap(step)) continue;
      const env = step.get('env');
      if (!isMap(env)) continue;
      for (const pair of env.items) {
        const name = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        if (!isScalar(pair.value) || typeof pair.value.value !== 'string') continue;
        if (!isSecretEnv(name, pair.value.value) || pair.value.value === REDACTED) continue;
        pair.value.value = REDACTED;
        redacted.push({ step: String(step.get('id') ?? '?'), name });
      }
    }
  }
  return { text: redacted.length ? doc.toString() : text, redacted };
}

/** Replaces every occurrence of each secret (raw, and as it appears inside a JSON string) by REDACTED. */
export function redactValues(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const s of secrets) {
    if (!out.includes(s) && !out.includes(JSON.stringify(s).slice(1, -1))) continue;
    out = out.split(s).join(REDACTED);
    const escaped = JSON.stringify(s).slice(1, -1);
    if (escaped !== s) out = out.split(escaped).join(REDACTED);
  }
  return out;
}
