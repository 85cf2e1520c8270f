import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** A JSON line a worker printed on stdout (`event` plus fields). */
export interface WorkerEvent {
  event: string;
  [field: string]: unknown;
}

/** What one process slot is and does; `config` is built per generation (a restart is generation + 1). */
export interface ProcessSpec {
  readonly name: string;
  readonly script: string;
  readonly config: (generation: number) => unknown;
  /** Start it again, after a second, when it exits without being told to (a crash). */
  readonly restartOnCrash: boolean;
  /** It ends by itself when its work is done: exit code 0 is not a crash. */
  readonly exitsWhenDone?: boolean;
}

/** An exit nobody asked for. */
export interface Crash {
  readonly name: string;
  readonly generation: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly atMs: number;
}

type State = 'down' | 'running' | 'paused';

class Slot {
  readonly spec: ProcessSpec;
  child: ChildProcess | undefined;
  generation = 0;
  state: State = 'down';
  /** The exit of the current child was asked for (kill, stop): not a crash. */
  expectedExit = false;
  exited: Promise<void> = Promise.resolve();
  ready: Promise<void> = Promise.resolve();
  pausedUntil = 0;
  lastEvents = new Map<string, WorkerEvent>();

  constructor(spec: ProcessSpec) {
    this.spec = spec;
  }
}

/**
 * Starts worker processes (`node <script> '<json>'`) and injects process faults into them:
 * SIGKILL, SIGSTOP/SIGCONT, graceful stop. Output goes to one log file per slot; JSON lines on
 * stdout are kept as events. Every child has an IPC channel, so it exits when the harness dies.
 */
export class Supervisor {
  readonly #slots = new Map<string, Slot>();
  readonly #logDir: string;
  readonly #logs = new Map<string, WriteStream>();
  readonly #startedAt = Date.now();
  readonly #onEvent: (name: string, event: WorkerEvent) => void;
  readonly crashes: Crash[] = [];
  #closing = false;

  constructor(logDir: string, onEvent: (name: string, event: WorkerEvent) => void = () => undefined) {
    this.#logDir = logDir;
    this.#onEvent = onEvent;
  }

  /** Registers a slot (not started). */
  add(spec: ProcessSpec): void {
    if (this.#slots.has(spec.name)) throw new Error(`process slot ${spec.name} exists already`);
    this.#slots.set(spec.name, new Slot(spec));
  }

  /** Whether the slot's process is alive (running or paused). */
  isUp(name: string): boolean {
    return this.#slot(name).state !== 'down';
  }

  /** The latest event of each kind a slot's current process printed. */
  lastEvent(name: string, event: string): WorkerEvent | undefined {
    return this.#slot(name).lastEvents.get(event);
  }

  /** Names of slots whose process is alive. */
  upNames(): string[] {
    return [...this.#slots.values()].filter((s) => s.state !== 'down').map((s) => s.spec.name);
  }

  /** Starts the slot's next generation; resolves once spawned. `ready()` waits for its `ready` line. */
  start(name: string): void {
    const slot = this.#slot(name);
    if (slot.state !== 'down') throw new Error(`${name} is already running`);
    if (this.#closing) return;
    slot.generation++;
    const generation = slot.generation;
    const log = this.#log(name);
    log.write(`--- ${new Date().toISOString()} start generation ${generation}\n`);
    const child = spawn(process.execPath, [slot.spec.script, JSON.stringify(slot.spec.config(generation))], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: process.env,
    });
    slot.child = child;
    slot.state = 'running';
    slot.expectedExit = false;
    slot.lastEvents = new Map();
    let markReady: () => void = () => undefined;
    let failReady: (error: Error) => void = () => undefined;
    slot.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    slot.ready.catch(() => undefined);
    child.stderr?.pipe(log, { end: false });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      log.write(`${line}\n`);
      if (!line.startsWith('{')) return;
      try {
        const event = JSON.parse(line) as WorkerEvent;
        if (slot.child === child) slot.lastEvents.set(event.event, event);
        if (event.event === 'ready') markReady();
        this.#onEvent(name, event);
      } catch {
        // Not one of ours: it is in the log file anyway.
      }
    });
    slot.exited = new Promise<void>((resolve) => {
      child.on('exit', (code, signal) => {
        log.write(`--- ${new Date().toISOString()} generation ${generation} exited code=${code} signal=${signal}\n`);
        failReady(new Error(`${name} exited (code ${code}, signal ${signal}) before it was ready`));
        if (slot.child === child) {
          slot.child = undefined;
          slot.state = 'down';
          const finished = slot.spec.exitsWhenDone === true && code === 0;
          if (!slot.expectedExit && !finished && !this.#closing) {
            this.crashes.push({ name, generation, code, signal, atMs: Date.now() - this.#startedAt });
            if (slot.spec.restartOnCrash) setTimeout(() => this.#slot(name).state === 'down' && this.start(name), 1_000).unref();
          }
        }
        resolve();
      });
    });
  }

  /** Waits until the slot's current process printed its `ready` line. */
  async ready(name: string, timeoutMs: number): Promise<void> {
    const slot = this.#slot(name);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        slot.ready,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${name} not ready after ${timeoutMs} ms (see ${this.logFile(name)})`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits up to `timeoutMs` for the slot's process to be alive (a crashed one is restarted after a second). */
  async waitUp(name: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.isUp(name) && !this.#closing && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    return this.isUp(name);
  }

  /** Waits until the slot's process exits by itself (a producer finishing its quota). */
  async exited(name: string): Promise<void> {
    await this.#slot(name).exited;
  }

  /** SIGKILL, and wait for the exit. A paused process dies too. */
  async kill(name: string): Promise<boolean> {
    const slot = this.#slot(name);
    if (slot.child === undefined) return false;
    slot.expectedExit = true;
    slot.child.kill('SIGKILL');
    await slot.exited;
    return true;
  }

  /** SIGSTOP now, SIGCONT after `ms` (unless paused longer meanwhile, killed or restarted). */
  pause(name: string, ms: number): Promise<void> | undefined {
    const slot = this.#slot(name);
    const child = slot.child;
    if (child === undefined) return undefined;
    child.kill('SIGSTOP');
    slot.state = 'paused';
    const until = Date.now() + ms;
    slot.pausedUntil = Math.max(slot.pausedUntil, until);
    return new Promise<void>((resolve) => {
      setTimeout(() => {
        if (slot.child === child && Date.now() >= slot.pausedUntil - 5) this.#resume(slot);
        resolve();
      }, ms);
    });
  }

  #resume(slot: Slot): void {
    if (slot.child === undefined || slot.state !== 'paused') return;
    slot.child.kill('SIGCONT');
    slot.state = 'running';
  }

  /**
   * SIGTERM (continuing a paused process first), then SIGKILL after `timeoutMs`. Resolves
   * undefined when it exited cleanly (code 0, or by the SIGTERM itself before it set up its
   * handler), else what went wrong.
   */
  async stop(name: string, timeoutMs: number): Promise<string | undefined> {
    const slot = this.#slot(name);
    const child = slot.child;
    if (child === undefined) return undefined;
    slot.expectedExit = true;
    child.kill('SIGTERM');
    if (slot.state === 'paused') this.#resume(slot);
    let timer: NodeJS.Timeout | undefined;
    const graceful = await Promise.race([
      slot.exited.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!graceful) {
      this.#log(name).write(`--- ${new Date().toISOString()} did not stop within ${timeoutMs} ms; SIGKILL\n`);
      child.kill('SIGKILL');
      await slot.exited;
      return `killed after ${timeoutMs} ms`;
    }
    if (child.exitCode === 0 || child.signalCode === 'SIGTERM') return undefined;
    return `exit code ${child.exitCode} signal ${child.signalCode}`;
  }

  /** Stops every process (SIGTERM, SIGKILL after `timeoutMs`); returns those that did not exit cleanly, and why. */
  async stopAll(timeoutMs: number): Promise<string[]> {
    this.#closing = true;
    const results = await Promise.all(this.upNames().map(async (n) => [n, await this.stop(n, timeoutMs)] as const));
    return results.filter(([, problem]) => problem !== undefined).map(([n, problem]) => `${n} (${problem})`);
  }

  /** Last resort on harness exit: SIGKILL everything still alive, synchronously. */
  killAllNow(): void {
    this.#closing = true;
    for (const slot of this.#slots.values()) {
      if (slot.child !== undefined) {
        slot.expectedExit = true;
        slot.child.kill('SIGKILL');
      }
    }
  }

  /** Closes the log files. */
  async close(): Promise<void> {
    await Promise.all([...this.#logs.values()].map((s) => new Promise<void>((resolve) => s.end(resolve))));
    this.#logs.clear();
  }

  /** The log file of a slot. */
  logFile(name: string): string {
    return join(this.#logDir, `${name}.log`);
  }

  #log(name: string): WriteStream {
    let stream = this.#logs.get(name);
    if (stream === undefined) {
      stream = createWriteStream(this.logFile(name), { flags: 'a' });
      this.#logs.set(name, stream);
    }
    return stream;
  }

  #slot(name: string): Slot {
    const slot = this.#slots.get(name);
    if (slot === undefined) throw new Error(`no process slot ${name}`);
    return slot;
  }
}
