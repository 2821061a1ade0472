// The part of fs-native-extensions (untyped CommonJS) that directory-lock.ts uses.
declare module 'fs-native-extensions' {
  /** An exclusive lock on the whole file behind `fd`; false when another holder has it. */
  export function tryLock(fd: number): boolean;
  export function unlock(fd: number): void;
}
