export declare function haproxyConfig(
  port: number,
  gatewayPorts: number[],
  opts?: { adminSocket?: string },
): string;
export declare function haproxyCommand(adminSocket: string, command: string): Promise<string>;
export declare function haproxyServerStatus(adminSocket: string, i: number): Promise<string>;
