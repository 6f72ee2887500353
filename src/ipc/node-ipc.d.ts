// node-ipc 14 ships no usable types: the small part traced uses.
declare module 'node-ipc' {
  import type { Socket } from 'node:net';

  interface IpcConfig {
    id: string;
    appspace: string;
    socketRoot: string;
    silent: boolean;
    parser: 'raw' | 'fast' | 'guarded' | 'assured';
    maxMessageSize: number;
    maxPendingBytes: number;
    messageTimeout: number;
    maxRetries: number;
    stopRetrying: boolean;
    retry: number;
    unlink: boolean;
    secureSocketRoot: boolean;
    readableAll: boolean;
    writableAll: boolean;
    maxConnections: number;
  }

  interface IpcServer {
    on(event: string, handler: (...args: any[]) => void): IpcServer;
    off(event: string, handler: (...args: any[]) => void): IpcServer;
    emit(socket: Socket, type: string, data: unknown): boolean;
    broadcast(type: string, data: unknown): boolean;
    start(): void;
    stop(): void;
    server: import('node:net').Server | false;
    sockets: Socket[];
  }

  interface IpcClient {
    on(event: string, handler: (...args: any[]) => void): IpcClient;
    off(event: string, handler: (...args: any[]) => void): IpcClient;
    emit(type: string, data: unknown): boolean;
    socket: Socket | false;
  }

  export class IPCModule {
    config: IpcConfig;
    of: Record<string, IpcClient>;
    server: IpcServer;
    serve(path: string, callback?: () => void): void;
    connectTo(id: string, path: string, callback?: () => void): void;
    disconnect(id: string): void;
  }

  const singleton: IPCModule;
  export default singleton;
}
