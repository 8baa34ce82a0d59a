/**
 * Names that identify a company or chip in news text: derived from the store (name without
 * its legal suffix, ticker, model number) plus a short curated list for names the derivation
 * cannot find ("Taiwan Semiconductor", "字节跳动", "B40"). Matching is case-insensitive at word
 * boundaries, so "H20" does not match "H200" and "Intel" does not match "intelligence".
 */
import type { Listing } from '../db/schema.js';

/** Curated company aliases by slug. */
const COMPANY_ALIASES: Record<string, string[]> = {
  nvidia: ['Nvidia'],
  amd: ['AMD', 'Advanced Micro Devices'],
  tsmc: ['TSMC', 'Taiwan Semiconductor'],
  'sk-hynix': ['SK hynix', 'Hynix'],
  samsung: ['Samsung'],
  alibaba: ['Alibaba'],
  bytedance: ['ByteDance', '字节跳动'],
  tencent: ['Tencent'],
  baidu: ['Baidu'],
  huawei: ['Huawei'],
  smic: ['SMIC', 'Semiconductor Manufacturing International'],
  cambricon: ['Cambricon'],
  microsoft: ['Microsoft'],
  meta: ['Meta Platforms'],
};

/** Curated chip aliases by slug (other names the press uses). */
const CHIP_ALIASES: Record<string, string[]> = {
  'rtx-pro-6000d': ['B40', 'RTX Pro 6000D'],
  gb200: ['GB200'],
  'ascend-910b': ['Ascend 910B'],
  'ascend-910c': ['Ascend 910C'],
  mlu590: ['MLU590', 'Siyuan 590'],
};

const LEGAL_SUFFIX =
  /[,.]?\s+(Corporation|Corp\.?|Incorporated|Inc\.?|Co\.,?\s*Ltd\.?|Company|Limited|Ltd\.?|Holdings?|Group|Technologies|Electronics|Platforms)\b.*$/i;

/** Aliases of a company: its name without legal suffix, alphabetic tickers, curated names. */
export function companyAliases(company: {
  slug: string;
  name: string;
  listings: Listing[];
}): string[] {
  const names = [company.name, company.name.replace(LEGAL_SUFFIX, '')];
  for (const listing of company.listings) {
    // Numeric tickers (0700, 688256) would match prices and dates.
    if (/^[A-Z]{2,5}$/.test(listing.ticker)) names.push(listing.ticker);
  }
  names.push(...(COMPANY_ALIASES[company.slug] ?? []));
  return unique(names);
}

/** Aliases of a chip: its name without designer and variant, its model number, curated names. */
export function chipAliases(chip: { slug: string; name: string }): string[] {
  const bare = chip.name.replace(/\s*\([^)]*\)/g, '').trim();
  const words = bare.split(/\s+/);
  const names = [bare];
  // "NVIDIA H200" -> "H200"; "AMD Instinct MI300X" -> "MI300X": the model number.
  const model = words.at(-1);
  if (model && /\d/.test(model) && /[a-z]/i.test(model)) names.push(model);
  if (words.length > 1) names.push(words.slice(1).join(' '));
  names.push(...(CHIP_ALIASES[chip.slug] ?? []));
  return unique(names);
}

function unique(names: string[]): string[] {
  return [...new Set(names.map((name) => name.trim()).filter((name) => name.length >= 2))];
}

const escapeRegExp = (value: string) => value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A matcher for any of `aliases` at word boundaries, case-insensitive. */
export function aliasMatcher(aliases: string[]): RegExp {
  const alternatives = [...aliases]
    .sort((a, b) => b.length - a.length)
    .map(escapeRegExp)
    .join('|');
  return new RegExp(`(?<![\\p{L}\\p{N}])(?:${alternatives})(?![\\p{L}\\p{N}])`, 'iu');
}
