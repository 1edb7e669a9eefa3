/* state_status.h — status codes shared by every state/ module.
 *
 * Errors are values: every state/ function returns one of these, and sl_state_strerror() turns it into
 * text for the one log line the runtime prints. Positive values are not errors. */
#ifndef SLUICE_STATE_STATUS_H
#define SLUICE_STATE_STATUS_H

enum sl_state_status {
  SL_STATE_OK = 0,
  SL_STATE_NOTFOUND = 1, /* not an error: the key (or iterator end) is absent */
  SL_STATE_EINVAL = -1,  /* bad argument (NULL, empty name, key too long) */
  SL_STATE_ENOMEM = -2,
  SL_STATE_EIO = -3,      /* an LMDB or OS error; sl_backend_last_error() has the detail */
  SL_STATE_EFULL = -4,    /* the disk is full: nothing was committed, the working state is intact */
  SL_STATE_ECORRUPT = -5, /* the environment is unreadable or MDB_PANIC: reopen required */
};

/* Returns a static string naming the status; never NULL. */
const char *sl_state_strerror(int status);

#endif
