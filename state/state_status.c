/* state_status.c — the text of every sl_state_status code.
 *
 * It lives apart from the backend so that every state/ module (and the Lua binding that turns a status into
 * a Lua error) can name a status without pulling in LMDB. */
#include "state/state_status.h"

const char *sl_state_strerror(int status) {
  switch (status) {
  case SL_STATE_OK:
    return "ok";
  case SL_STATE_NOTFOUND:
    return "not found";
  case SL_STATE_EINVAL:
    return "invalid argument";
  case SL_STATE_ENOMEM:
    return "out of memory";
  case SL_STATE_EIO:
    return "state store I/O error";
  case SL_STATE_EFULL:
    return "disk full: nothing was committed, the working state is intact";
  case SL_STATE_ECORRUPT:
    return "state store corrupt or in a failed state: reopen required";
  default:
    return "unknown state status";
  }
}
