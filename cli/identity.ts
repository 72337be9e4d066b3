/**
 * Who is at the keyboard: git's user.email, else $USER (recorded with every approval).
 */
import { execFileSync } from 'node:child_process';
import { userInfo } from 'node:os';

let cached: string | undefined;

export function currentActor(cwd = process.cwd()): string {
  if (cached) return cached;
  try {
    const email = execFileSync('git', ['config', 'user.email'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 }).trim();
    if (email) return (cached = email);
  } catch {
    // no git, or no user.email set
  }
  let user = process.env.USER;
  if (!user) {
    try {
      user = userInfo().username;
    } catch {
      user = 'unknown';
    }
  }
  return (cached = user);
}
