import { readFileSync, readdirSync } from 'node:fs';
import { summarizeProfile } from './bench/profile.js';
const dir = '/tmp/ops10/prof';
const f = readdirSync(dir)[0]!;
const s = summarizeProfile(JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')), 25);
console.log('busy', s.busyMs.toFixed(0), 'idle', s.idleMs.toFixed(0));
for (const p of s.packages.slice(0, 20)) console.log(p.selfMs.toFixed(0).padStart(7), p.name);
console.log('--');
for (const p of s.functions.slice(0, 20)) console.log(p.selfMs.toFixed(0).padStart(7), p.name, p.location);
