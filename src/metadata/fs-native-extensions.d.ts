// The part of fs-native-extensions (untyped CommonJS) that Cairn uses: file locks (directory-lock.ts)
// and extended attributes (src/build/executor/layered-view.ts).
declare module 'fs-native-extensions' {
  /** An exclusive lock on the whole file behind `fd`; false when another holder has it. */
  export function tryLock(fd: number): boolean;
  export function unlock(fd: number): void;
  /** The extended attribute `name` (full name, e.g. `trusted.overlay.opaque`) of the file behind `fd`. */
  export function getAttr(fd: number, name: string): Promise<Buffer | null>;
}
