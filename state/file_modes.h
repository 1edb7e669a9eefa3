/* file_modes.h — the permissions of everything sluice creates in a state dir.
 *
 * A state dir holds users' records (state values, pending output, savepoints), so, like PostgreSQL's data
 * directory, it is readable by its owner only: directories 0700, files 0600. These are the modes passed to
 * mkdir/open/mdb_env_open; the umask can only narrow them, never widen them. */
#ifndef SLUICE_FILE_MODES_H
#define SLUICE_FILE_MODES_H

#define SL_STATE_DIR_MODE 0700
#define SL_STATE_FILE_MODE 0600

#endif
