/* kafka_group_child.c — the child processes of `sluice group`, one per assigned partition (see
 * kafka_group.h): each is this same binary running `sluice run` on one partition's state dir. */
#include "core/kafka_group.h"

#include "core/log.h"
#include "state/state_clock.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void sl_group_state_dir(const sl_group_spec *s, int p, char *out, size_t len) {
  snprintf(out, len, "%s/partition-%d", s->checkpoint_dir, p);
}

void sl_group_output_file(const sl_group_spec *s, int p, char *out, size_t len) {
  snprintf(out, len, "%s/partition-%d.jsonl", s->output_dir, p);
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void exec_child(char **argv, pid_t parent) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* Dies with the supervisor: a SIGKILLed supervisor's partitions go to another process after the session
   * timeout, whose children must not find these still running on the state dirs. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
    _exit(127); /* the supervisor died between fork and prctl */
  /* Its own process group: a terminal's ^C or a kill of the supervisor's group reaches the supervisor,
   * which stops the children itself, once each (a second signal would cut a final checkpoint short). */
  setpgid(0, 0);
  execv("/proc/self/exe", argv);
  static const char msg[] = "sluice: group: cannot run /proc/self/exe\n";
  ssize_t w = write(2, msg, sizeof msg - 1);
  (void)w;
  _exit(127);
}

int sl_group_child_start(sl_group_child *c, const sl_group_spec *s) {
  char state[4200], out[4200], url[8192];
  sl_group_state_dir(s, c->partition, state, sizeof state);
  sl_group_output_file(s, c->partition, out, sizeof out);
  snprintf(url, sizeof url, "%s?partitions=%d%s", s->url_base, c->partition, s->child_query);
  int n = 0, cap = 10 + s->nrun_args + 1 + s->nscript_args + 1;
  char **argv = calloc((size_t)cap, sizeof *argv);
  if (!argv) {
    errno = ENOMEM;
    return -1;
  }
  argv[n++] = "sluice";
  argv[n++] = "run";
  argv[n++] = (char *)s->script;
  argv[n++] = "--input";
  argv[n++] = url;
  argv[n++] = "--state-dir";
  argv[n++] = state;
  argv[n++] = "--output";
  argv[n++] = out;
  for (int i = 0; i < s->nrun_args; i++)
    argv[n++] = s->run_args[i];
  if (s->nscript_args) {
    argv[n++] = "--";
    for (int i = 0; i < s->nscript_args; i++)
      argv[n++] = s->script_args[i];
  }
  pid_t parent = getpid();
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0)
    exec_child(argv, parent);
  int e = errno;
  free(argv);
  if (pid < 0) {
    errno = e;
    return -1;
  }
  c->pid = pid;
  c->stopping = 0;
  c->started_ms = sl_monotonic_ms();
  sl_info("group: partition %d: started its job (pid %ld) on %s", c->partition, (long)pid, state);
  return 0;
}

int sl_group_child_reap(sl_group_child *c) {
  int status;
  if (c->pid <= 0)
    return 0;
  pid_t r = waitpid(c->pid, &status, WNOHANG);
  if (r == 0 || (r < 0 && errno == EINTR))
    return 0;
  /* r < 0 (ECHILD) cannot happen for our own child; it is taken as gone. */
  c->last_status = r < 0 ? 0 : status;
  c->pid = 0;
  return 1;
}

const char *sl_group_status_text(int status, char *buf, size_t len) {
  if (WIFSIGNALED(status))
    snprintf(buf, len, "signal %d", WTERMSIG(status));
  else
    snprintf(buf, len, "status %d", WEXITSTATUS(status));
  return buf;
}

static void sleep_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

int sl_group_children_stop(sl_group_child *cs, int n) {
  int bad = 0, left = 0;
  for (int i = 0; i < n; i++)
    if (cs[i].stopping && cs[i].pid > 0) {
      kill(cs[i].pid, SIGTERM);
      left++;
    }
  const uint64_t deadline = sl_monotonic_ms() + SL_GROUP_STOP_WAIT_MS;
  int killed = 0;
  while (left > 0) {
    for (int i = 0; i < n; i++) {
      if (!cs[i].stopping || cs[i].pid <= 0 || !sl_group_child_reap(&cs[i]))
        continue;
      char why[32];
      left--;
      if (cs[i].last_status != 0) {
        bad++;
        sl_warn("group: partition %d: its job exited with %s when stopped", cs[i].partition,
                sl_group_status_text(cs[i].last_status, why, sizeof why));
      } else {
        sl_info("group: partition %d: its job stopped", cs[i].partition);
      }
    }
    if (left > 0 && !killed && sl_monotonic_ms() >= deadline) {
      /* Its state is then its last complete checkpoint's: nothing is lost, the next owner resumes it. */
      for (int i = 0; i < n; i++)
        if (cs[i].stopping && cs[i].pid > 0) {
          sl_warn("group: partition %d: its job did not stop within %d s; killing it", cs[i].partition,
                  SL_GROUP_STOP_WAIT_MS / 1000);
          kill(cs[i].pid, SIGKILL);
        }
      killed = 1;
    }
    if (left > 0)
      sleep_ms(20);
  }
  return bad;
}
