// The `options` startup parameter carries server command-line switches, split
// on spaces with backslash escapes as PostgreSQL's pg_split_opts does:
// `-c name=value`, `-cname=value` or `--name=value`. Nexus can route by one
// of these settings and removes it before the options reach the backend.

export interface TakenOption {
  /** The setting's value, or undefined when the options do not set it. */
  readonly value: string | undefined;
  /** The options without that setting, escaped again for the backend. */
  readonly rest: string;
}

/** Finds setting `name` in an options string and returns it with the rest. */
export function takeOption(options: string, name: string): TakenOption {
  const wanted = normalizeName(name);
  const words = splitOptions(options);
  const kept: string[] = [];
  let value: string | undefined;
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    let setting: string | undefined;
    let consumed = [word];
    if (word === "-c" && i + 1 < words.length) {
      setting = words[i + 1]!;
      consumed = [word, setting];
      i += 1;
    } else if (word.startsWith("-c") && word.length > 2) {
      setting = word.slice(2);
    } else if (word.startsWith("--")) {
      setting = word.slice(2);
    }
    const equals = setting?.indexOf("=") ?? -1;
    if (setting !== undefined && equals > 0 && normalizeName(setting.slice(0, equals)) === wanted) {
      value = setting.slice(equals + 1);
    } else {
      kept.push(...consumed);
    }
  }
  return { value, rest: kept.map(escapeWord).join(" ") };
}

/** PostgreSQL treats dashes in setting names as underscores and ignores case. */
function normalizeName(name: string): string {
  return name.replaceAll("-", "_").toLowerCase();
}

function splitOptions(options: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  for (let i = 0; i < options.length; i++) {
    const char = options[i]!;
    if (char === "\\" && i + 1 < options.length) {
      word += options[i + 1];
      inWord = true;
      i += 1;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

function escapeWord(word: string): string {
  return word.replace(/[\s\\]/g, (char) => `\\${char}`);
}
