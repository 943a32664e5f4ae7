export declare function redisArgs(port: number, dir?: string): string[];
export declare function ferretdbArgs(port: number, sqliteDir: string, stateDir: string): string[];
export declare function localSlotSockets(env?: Record<string, string | undefined>): string;
