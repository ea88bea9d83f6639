/**
 * A Plan as text: what the golden files hold and what a dry-run transport can print. Argv words
 * are printed bare when they are plain tokens (always, for what adapters render) and as JSON
 * strings otherwise; stdin, session lines and manual text are printed line by line after `| `.
 */
import type { Plan } from './types.ts';

function word(w: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : JSON.stringify(w);
}

function block(label: string, text: string | readonly string[]): string[] {
  const lines = typeof text === 'string' ? text.replace(/\n$/, '').split('\n') : text;
  return [`${label}:`, ...lines.map((l) => `| ${l}`)];
}

export function formatPlan(plan: Plan): string {
  const out: string[] = [];
  if (plan.steps.length === 0) out.push('(no steps)');
  plan.steps.forEach((s, i) => {
    out.push(`# step ${i + 1} of ${plan.steps.length}`);
    if ('argv' in s) {
      if (s.unless) out.push(`unless: ${s.unless.map(word).join(' ')}`);
      out.push(`argv: ${s.argv.map(word).join(' ')}`);
      if (s.okExit) out.push(`ok-exit: ${s.okExit.join(',')}`);
      if (s.stdin !== undefined) out.push(...block('stdin', s.stdin));
    } else {
      out.push(...block('session', s.session));
    }
  });
  if (plan.manual) out.push('# manual', ...block('text', plan.manual));
  return `${out.join('\n')}\n`;
}
