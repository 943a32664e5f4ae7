import { Store } from './store';

export type ThemeChoice = 'system' | 'light' | 'dark';
export type Theme = 'light' | 'dark';

const KEY = 'coderoom.theme';

/**
 * Light or dark: follows the system unless the user picks one (kept in localStorage). The
 * effective theme is set as `data-theme` on <html>, which app.css keys its colours on.
 */
export class ThemeStore extends Store<{ choice: ThemeChoice; theme: Theme }> {
  readonly #media: MediaQueryList;

  constructor(
    private readonly storage: Pick<Storage, 'getItem' | 'setItem'> | null = safeLocalStorage(),
    media: MediaQueryList = matchMedia('(prefers-color-scheme: dark)'),
  ) {
    const stored = storage?.getItem(KEY);
    const choice: ThemeChoice = stored === 'light' || stored === 'dark' ? stored : 'system';
    super({ choice, theme: effective(choice, media.matches) });
    this.#media = media;
    media.addEventListener('change', () => this.#apply(this.value.choice));
    this.#apply(choice);
  }

  choose(choice: ThemeChoice): void {
    try {
      this.storage?.setItem(KEY, choice);
    } catch {
      // not kept: fine
    }
    this.#apply(choice);
  }

  #apply(choice: ThemeChoice): void {
    const theme = effective(choice, this.#media.matches);
    document.documentElement.dataset.theme = theme;
    this.set({ choice, theme });
  }
}

function effective(choice: ThemeChoice, systemDark: boolean): Theme {
  return choice === 'system' ? (systemDark ? 'dark' : 'light') : choice;
}

export function safeLocalStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}
