// A stand-in for the Tauri IPC in unit tests: each test says what a command answers. A command a
// test did not expect fails the test loudly instead of hanging.
type Handler = (args: Record<string, unknown>) => unknown;

const handlers = new Map<string, Handler>();
export const calls: { cmd: string; args: Record<string, unknown> }[] = [];

/** `cmd` answers with what `handler` returns; a handler that throws a plain object is a command error. */
export function respond(cmd: string, handler: Handler) {
  handlers.set(cmd, handler);
}

export function reset() {
  handlers.clear();
  calls.length = 0;
}

export async function invoke(cmd: string, args: Record<string, unknown> = {}): Promise<unknown> {
  calls.push({ cmd, args });
  const handler = handlers.get(cmd);
  if (!handler) throw new Error(`unexpected command ${cmd}`);
  return handler(args);
}

export function callsTo(cmd: string) {
  return calls.filter((c) => c.cmd === cmd).map((c) => c.args);
}
