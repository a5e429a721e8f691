// Encoding of stat results for the patched binding (layout in fuse-native.c populate_stat). Pure.
import type { BigIntStats } from 'node:fs';

const TWO32 = 4294967296n;

function put64(ints: Uint32Array, i: number, v: bigint): void {
  ints[i] = Number(v % TWO32);
  ints[i + 1] = Number(v / TWO32);
}

function putTime(ints: Uint32Array, i: number, ns: bigint): void {
  const sec = ns / 1000000000n;
  put64(ints, i, sec);
  ints[i + 2] = Number(ns - sec * 1000000000n);
}

/** Encodes an lstat result; `size` overrides st_size (variant links report their expansion's length). */
export function encodeStat(st: BigIntStats, size?: number): Uint32Array {
  const ints = new Uint32Array(22);
  ints[0] = Number(st.mode);
  ints[1] = Number(st.uid);
  ints[2] = Number(st.gid);
  put64(ints, 3, size === undefined ? st.size : BigInt(size));
  ints[5] = Number(st.dev % TWO32);
  ints[6] = Number(st.nlink);
  put64(ints, 7, st.ino);
  ints[9] = Number(st.rdev % TWO32);
  ints[10] = Number(st.blksize);
  put64(ints, 11, st.blocks);
  putTime(ints, 13, st.atimeNs);
  putTime(ints, 16, st.mtimeNs);
  putTime(ints, 19, st.ctimeNs);
  return ints;
}
