export interface NodePin {
  node: string;
  npm: string;
  integrity: Record<string, string>;
}
export declare const NODE_PIN: NodePin;
export declare const LAUNCHED_BY: 'CODEROOM_STACK_LAUNCHED_BY';
export declare function compareVersions(a: string, b: string): -1 | 0 | 1;
export interface PinnedNode {
  version: string;
  dir: string;
  bin: string;
}
export declare function npmPackage(
  name: string,
  version: string,
  say?: (msg: string) => void,
): Promise<string>;
export declare function pinnedNode(say?: (msg: string) => void): Promise<PinnedNode>;
export declare function pinnedEnv(runtime: PinnedNode, env?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
export declare function reexecOnPinnedNode(say: (msg: string) => void): Promise<number | null>;
