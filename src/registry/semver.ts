/**
 * Model versions are Semantic Versioning 2.0.0 (https://semver.org/spec/v2.0.0.html), strictly:
 * no leading "v", no spaces, no loose forms. Precedence is the `semver` package's (7.x, strict
 * mode), which follows §11: numbers compare numerically (1.10.0 > 1.2.0), a prerelease sorts
 * before its release (1.0.0-rc.1 < 1.0.0), prerelease identifiers compare one by one (numeric
 * ones numerically and below alphanumeric ones), and build metadata is ignored (§10), so
 * 1.0.0+a and 1.0.0+b are the same version for ordering.
 *
 * The package itself accepts more than the spec (`v1.2.3`, `=1.2.3`, surrounding spaces: its
 * FULL regex starts with `v?` and it trims), so every string is checked here first, and a
 * refusal says what is wrong with it rather than only that it is invalid.
 */
import semver, { type SemVer } from 'semver';
import { InputError } from '../files/input-error.js';

/** A string that is not a strict semantic version; the message says what is wrong with it. */
export class VersionError extends InputError {}

// semver 7's limits (internal/constants.js): the whole string, and each number.
const MAX_LENGTH = 256;
const IDENT = /^[0-9A-Za-z-]+$/;

/** What is wrong with `text` as a strict semantic version, or undefined when nothing is. */
export function versionProblem(text: unknown): string | undefined {
  if (typeof text !== 'string') return `expected a string such as 1.2.0, got ${text === null ? 'null' : typeof text}`;
  if (text === '') return 'it is empty; expected MAJOR.MINOR.PATCH such as 1.2.0';
  if (text.length > MAX_LENGTH) return `it is ${text.length} characters long; at most ${MAX_LENGTH} are accepted`;
  if (text.trim() !== text || /\s/.test(text)) return 'it contains spaces';
  if (/^[vV=]/.test(text)) return `a leading "${text[0]}" is not part of a semantic version: write ${text.slice(1)}`;
  const plus = text.indexOf('+');
  const build = plus < 0 ? undefined : text.slice(plus + 1);
  const rest = plus < 0 ? text : text.slice(0, plus);
  const dash = rest.indexOf('-');
  const pre = dash < 0 ? undefined : rest.slice(dash + 1);
  const main = dash < 0 ? rest : rest.slice(0, dash);
  const parts = main.split('.');
  if (parts.length !== 3) return `"${main}" has ${parts.length} part${parts.length === 1 ? '' : 's'}; a version is MAJOR.MINOR.PATCH, three numbers (1.2 is written 1.2.0)`;
  const names = ['MAJOR', 'MINOR', 'PATCH'];
  for (let i = 0; i < 3; i++) {
    const p = parts[i];
    if (p === '') return `${names[i]} is empty`;
    if (!/^\d+$/.test(p)) return `${names[i]} "${p}" is not a number`;
    if (p.length > 1 && p.startsWith('0')) return `${names[i]} "${p}" has a leading zero (semver 2.0.0 §2)`;
    if (Number(p) > Number.MAX_SAFE_INTEGER) return `${names[i]} ${p} is larger than ${Number.MAX_SAFE_INTEGER}`;
  }
  const idents = (what: string, s: string, numericNoZero: boolean): string | undefined => {
    if (s === '') return `the ${what} after "${what === 'prerelease' ? '-' : '+'}" is empty`;
    for (const id of s.split('.')) {
      if (id === '') return `the ${what} "${s}" has an empty identifier (two dots in a row, or a dot at an end)`;
      if (!IDENT.test(id)) return `the ${what} identifier "${id}" has characters other than 0-9, A-Z, a-z and "-"`;
      if (numericNoZero && /^\d+$/.test(id) && id.length > 1 && id.startsWith('0')) return `the ${what} identifier "${id}" is a number with a leading zero (semver 2.0.0 §9)`;
    }
    return undefined;
  };
  if (pre !== undefined) {
    const p = idents('prerelease', pre, true);
    if (p) return p;
  }
  if (build !== undefined) {
    const p = idents('build metadata', build, false);
    if (p) return p;
  }
  const parsed = semver.parse(text, { loose: false });
  // Belt and braces: whatever the checks above let through must be what the package reads.
  if (!parsed || `${parsed.version}${build !== undefined ? `+${build}` : ''}` !== text) return 'it is not a semantic version (semver 2.0.0)';
  return undefined;
}

/**
 * Parses a strict semantic version, or throws a VersionError saying what is wrong:
 *   version "v1.2.0": a leading "v" is not part of a semantic version: write 1.2.0
 */
export function parseVersion(text: string, what = 'version'): SemVer {
  const problem = versionProblem(text);
  if (problem) throw new VersionError(`${what} ${JSON.stringify(text)}: ${problem}`);
  return semver.parse(text, { loose: false })!;
}

/** Precedence of two strict versions (semver 2.0.0 §11; build metadata ignored): -1, 0 or 1. */
export function compareVersions(a: string, b: string): -1 | 0 | 1 {
  return semver.compare(parseVersion(a), parseVersion(b));
}

/** The versions in ascending precedence (equal ones keep their order). */
export function sortVersions(versions: readonly string[]): string[] {
  return [...versions].sort(compareVersions);
}

/** The greatest of `versions` by precedence, or undefined for none. */
export function greatestVersion(versions: readonly string[]): string | undefined {
  return versions.reduce<string | undefined>((best, v) => (best === undefined || compareVersions(v, best) > 0 ? v : best), undefined);
}
