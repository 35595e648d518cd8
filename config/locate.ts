import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node, type Pair } from 'yaml';

export interface Position {
  line: number;
  col: number;
}

/**
 * Finds where a key path sits in the YAML source. With `at: 'key'` the last path element
 * is a map key and its key is located (for "unknown key" problems); otherwise the value
 * is. A path that does not exist (a missing required option) resolves to the deepest
 * node that does, so the problem points at the map that lacks the key.
 */
export function locate(doc: Document, lines: LineCounter, path: readonly PropertyKey[], at: 'key' | 'value' = 'value'): Position {
  let node: Node | null | undefined = doc.contents as Node | null;
  let found: Node | null | undefined = node;
  for (let i = 0; i < path.length && node; i++) {
    const step = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair: Pair<unknown, unknown> | undefined = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(step));
      if (!pair) break;
      node = last && at === 'key' ? (pair.key as Node) : ((pair.value as Node | null) ?? (pair.key as Node));
    } else if (isSeq(node) && typeof step === 'number') {
      node = node.items[step] as Node | undefined;
    } else {
      break;
    }
    if (node) found = node;
  }
  const offset = found?.range?.[0] ?? 0;
  const pos = lines.linePos(offset);
  return { line: pos.line, col: pos.col };
}
