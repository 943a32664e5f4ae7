export declare function haproxyConfig(port: number, gatewayPorts: number[]): string;
