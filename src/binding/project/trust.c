// Which project files count for a caller (the rule of docs/security.md, after git's safe.directory and
// ssh's StrictModes): judge() decides, from a stat the walk (walk.c) or the read (contents.c) just made.
#include "internal.h"

// The uid a project file (or its link) counts as owned by: stat's, unless it is on a FUSE filesystem another
// user mounted (a mount on the file itself is enough): that server says whatever owner it likes, uid 0
// included, so the file counts as its mounter's (the mount's user_id=).
static uint32_t owner_of (const vsf_project_t *p, const struct statx *st) {
  if (!(st->stx_mask & STATX_MNT_ID)) return st->stx_uid;
  uint32_t mounter = mount_fuse_user(p->req.pid, st->stx_mnt_id);
  return mounter == UINT32_MAX || mounter == 0 ? st->stx_uid : mounter;
}

// Whether a project file (or a symlinked one's link) in directory `d` of the walk counts for this caller:
// 0 when it does, else why not, with *owner. Anywhere under a --trust-dir, any file counts. Elsewhere only
// one owned by the caller (the request's fs uid) or root, and that no one else may write: never writable by
// others, nor by its group unless that is the caller's own group on the caller's own file (a user private
// group, umask 002). Another user who can write a directory above (/tmp) or the file would otherwise choose
// what the caller's links run.
uint32_t judge (const vsf_project_t *p, uint32_t d, const struct statx *st, uint32_t *owner) {
  uint32_t uid = owner_of(p, st);
  *owner = uid;
  for (uint32_t i = 0; i < vsf_config.trust_count; i++) if (above(vsf_config.trust_dirs[i], vsf_config.trust_lens[i], p->cwd, p->ends[d])) return 0;
  if (uid != p->req.uid && uid != 0) return VSF_FILE_UNTRUSTED;
  if (S_ISLNK(st->stx_mode)) return 0;  // a link's mode means nothing
  if (st->stx_mode & S_IWOTH) return VSF_FILE_WRITABLE;
  if ((st->stx_mode & S_IWGRP) && !(uid == p->req.uid && st->stx_gid == p->req.gid)) return VSF_FILE_WRITABLE;
  return 0;
}
