/* The Redis client (redis/redis_client.c) against a real redis-server that
 * the test starts on a free loopback port: URL parsing, subscribe and publish
 * of binary payloads, pattern subscriptions, PUBSUB NUMSUB, surviving a
 * SIGKILLed and restarted server, and closing in every state (up, down,
 * connecting, from inside a callback). Uses $SIO_REDIS_SERVER, else
 * redis-server from PATH; skips when there is none. Every wait is bounded, and an alarm kills the run (and the server)
 * if anything still hangs. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis/redis_client.h"
#include "util/log.h"
#include "tap.h"

extern char **environ;

/* ---- the server -------------------------------------------------------- */

static char redis_bin[PATH_MAX];
static pid_t redis_pid = -1;
static int redis_port;

static int find_in_path(const char *name, char *out, size_t cap) {
  const char *path = getenv("PATH");
  if (!path) path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    const char *end = strchr(path, ':');
    size_t n = end ? (size_t)(end - path) : strlen(path);
    if (n > 0 && (size_t)snprintf(out, cap, "%.*s/%s", (int)n, path, name) < cap &&
        access(out, X_OK) == 0)
      return 0;
    path += n + (end ? 1 : 0);
  }
  return -1;
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  close(fd);
  return ntohs(a.sin_port);
}

static int port_open(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int rv = connect(fd, (struct sockaddr *)&a, sizeof a);
  close(fd);
  return rv == 0;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Starts redis-server on redis_port and waits (at most 3 s) until it accepts. */
static int redis_start(void) {
  char port[16];
  snprintf(port, sizeof port, "%d", redis_port);
  char *argv[] = {redis_bin, "--port", port, "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--daemonize", "no", NULL};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  int rv = posix_spawn(&redis_pid, redis_bin, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rv != 0) {
    redis_pid = -1;
    return -1;
  }
  for (int i = 0; i < 150; i++) {
    if (port_open(redis_port)) return 0;
    if (waitpid(redis_pid, NULL, WNOHANG) == redis_pid) break; /* it died */
    sleep_ms(20);
  }
  return -1;
}

static void redis_kill(void) {
  if (redis_pid <= 0) return;
  kill(redis_pid, SIGKILL);
  waitpid(redis_pid, NULL, 0);
  redis_pid = -1;
}

static void on_alarm(int sig) {
  (void)sig;
  if (redis_pid > 0) kill(redis_pid, SIGKILL);
  static const char msg[] = "Bail out! timed out\n";
  (void)!write(1, msg, sizeof msg - 1);
  _exit(1);
}

/* ---- the loop ------------------------------------------------------------- */

static uv_loop_t loop;
static uv_timer_t tick; /* wakes UV_RUN_ONCE up so waits can check the clock */
static void on_tick(uv_timer_t *t) { (void)t; }

/* Runs the loop until cond holds or ms pass; evaluates to cond. */
#define WAIT_FOR(cond, ms)                                                 \
  ({                                                                       \
    uint64_t wf_deadline = uv_now(&loop) + (ms);                           \
    while (!(cond) && uv_now(&loop) < wf_deadline) uv_run(&loop, UV_RUN_ONCE); \
    (cond);                                                                \
  })
#define RUN_FOR(ms) (void)WAIT_FOR(0, ms)

/* ---- a test client ---------------------------------------------------------- */

typedef struct tc {
  sio__redis_client *rc;
  int up, ups, downs;
  int nmsg;
  char channel[128], pattern[128];
  int had_pattern;
  char payload[256];
  size_t len;
  int subs_ok, subs_cancelled;
  int closed;
  int numsub_done, numsub_status;
  long long numsub;
  int close_in_message;
} tc;

static void on_message(sio__redis_client *rc, const char *channel, const char *pattern,
                       const char *payload, size_t len, void *data) {
  tc *t = data;
  t->nmsg++;
  snprintf(t->channel, sizeof t->channel, "%s", channel);
  t->had_pattern = pattern != NULL;
  snprintf(t->pattern, sizeof t->pattern, "%s", pattern ? pattern : "");
  t->len = len < sizeof t->payload ? len : sizeof t->payload;
  memcpy(t->payload, payload, t->len);
  if (t->close_in_message) sio__redis_client_close(rc, NULL, NULL);
}

static void on_state(sio__redis_client *rc, int up, void *data) {
  tc *t = data;
  t->up = up;
  if (up) t->ups++;
  else t->downs++;
}

static void on_sub(sio__redis_client *rc, int status, void *data) {
  tc *t = data;
  if (status == 0) t->subs_ok++;
  else if (status == UV_ECANCELED) t->subs_cancelled++;
}

static void on_numsub(sio__redis_client *rc, int status, long long count, void *data) {
  tc *t = data;
  t->numsub_done++;
  t->numsub_status = status;
  t->numsub = count;
}

static void on_closed(sio__redis_client *rc, void *data) { ((tc *)data)->closed++; }

static int tc_open(tc *t, const char *url) {
  memset(t, 0, sizeof *t);
  sio__redis_client_callbacks cb = {on_message, on_state, t};
  return sio__redis_client_create(&loop, url, &cb, &t->rc);
}

static void tc_close(tc *t) {
  sio__redis_client_close(t->rc, on_closed, t);
  ok(WAIT_FOR(t->closed, 3000), "on_closed runs");
  t->rc = NULL;
}

static int numsub(tc *t, const char *channel) {
  t->numsub_done = 0;
  if (sio__redis_client_numsub(t->rc, channel, on_numsub, t) != 0) return -1;
  if (!WAIT_FOR(t->numsub_done, 2000) || t->numsub_status != 0) return -1;
  return (int)t->numsub;
}

/* ---- tests --------------------------------------------------------------------- */

static void test_urls(void) {
  sio__redis_url u;
  const char *why;
  is_int(sio__redis_url_parse("redis://127.0.0.1:6380/2", &u, &why), 0, "full URL");
  is_str(u.host, "127.0.0.1", "host");
  is_int(u.port, 6380, "port");
  is_int(u.db, 2, "db");
  is_int(sio__redis_url_parse("redis://redis.internal", &u, NULL), 0, "host only");
  is_int(u.port, 6379, "default port 6379");
  is_int(u.db, 0, "default db 0");
  is_int(sio__redis_url_parse("REDIS://[::1]:7000/", &u, NULL), 0, "IPv6, scheme case, empty db");
  is_str(u.host, "::1", "IPv6 host without brackets");
  is_int(u.port, 7000, "IPv6 port");

  static const struct {
    const char *url, *why;
  } bad[] = {
      {"http://h:1", "only redis://HOST[:PORT][/DB] URLs are supported"},
      {"rediss://h:1", "TLS (rediss://) is not supported"},
      {"redis://", "missing host"},
      {"redis://:6379", "missing host"},
      {"redis://user:pw@h:1", "credentials in the URL are not supported"},
      {"redis://h:0", "port is not a number in 1..65535"},
      {"redis://h:65536", "port is not a number in 1..65535"},
      {"redis://h:", "port is not a number in 1..65535"},
      {"redis://h:12x", "port is not a number in 1..65535"},
      {"redis://h:1/db", "database is not a decimal number"},
      {"redis://h:1/1?timeout=3", "query strings are not supported"},
      {"redis://[::1:1", "unterminated [IPv6] host"},
      {"redis://[::1]x", "unexpected text after the host"},
      {"redis://h?x=1", "bad character in host (query strings are not supported)"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why = NULL;
    is_int(sio__redis_url_parse(bad[i].url, &u, &why), UV_EINVAL, "rejects %s", bad[i].url);
    is_str(why, bad[i].why, "reason for %s", bad[i].url);
  }
  sio__redis_client *rc = (sio__redis_client *)&u;
  is_int(sio__redis_client_create(&loop, "tcp://h:1", NULL, &rc), UV_EINVAL,
         "create rejects a bad URL");
  ok(rc == NULL, "and leaves *out NULL");
}

static const char bin[] = {'a', 0, (char)0xff, 'b', 0, 0, (char)0x80, '\n', (char)0xff, 'z'};

static void test_pubsub(tc *a) {
  ok(sio__redis_client_subscribe(a->rc, "t:plain", on_sub, a) == 0, "subscribe before connect");
  ok(sio__redis_client_psubscribe(a->rc, "t:pat:*", on_sub, a) == 0, "psubscribe");
  is_int(sio__redis_client_subscribe(a->rc, "t:plain", on_sub, a), UV_EEXIST,
         "subscribing twice is refused");
  ok(WAIT_FOR(a->up, 3000), "client comes up");
  is_int(a->subs_ok, 2, "both subscriptions confirmed");
  is_int(a->ups, 1, "on_state(up) once");
  ok(sio__redis_client_up(a->rc), "sio__redis_client_up");

  is_int(sio__redis_client_publish(a->rc, "t:plain", bin, sizeof bin), 0, "publish binary");
  ok(WAIT_FOR(a->nmsg == 1, 2000), "message arrives");
  is_str(a->channel, "t:plain", "its channel");
  ok(!a->had_pattern, "no pattern for a plain subscription");
  is_mem(a->payload, a->len, bin, sizeof bin, "payload intact (NUL, 0xff)");

  is_int(sio__redis_client_publish(a->rc, "t:pat:room1", "x\0y", 3), 0, "publish to a pattern");
  ok(WAIT_FOR(a->nmsg == 2, 2000), "pmessage arrives");
  is_str(a->channel, "t:pat:room1", "the channel published to");
  is_str(a->pattern, "t:pat:*", "the matching pattern");
  is_mem(a->payload, a->len, "x\0y", 3, "pmessage payload");

  is_int(sio__redis_client_publish(a->rc, "t:nobody", "", 0), 0, "empty payload, no listener");
  const sio__redis_client_stats *st = sio__redis_client_stats_get(a->rc);
  is_int(st->publish_ok, 3, "publish_ok");
  is_int(st->messages_in, 2, "messages_in");
}

static void test_numsub(tc *a, tc *b) {
  ok(sio__redis_client_subscribe(b->rc, "t:plain", NULL, NULL) == 0, "b subscribes t:plain");
  ok(WAIT_FOR(b->up, 3000), "b comes up (via localhost, resolved)");
  is_int(numsub(a, "t:plain"), 2, "NUMSUB t:plain counts both clients");
  is_int(numsub(a, "t:none"), 0, "NUMSUB of an unused channel");
  /* A subscription made while up. */
  ok(sio__redis_client_subscribe(b->rc, "t:late", on_sub, b) == 0, "b subscribes while up");
  ok(WAIT_FOR(b->subs_ok == 1, 2000), "confirmed");
  is_int(numsub(b, "t:late"), 1, "NUMSUB t:late");
  is_int(sio__redis_client_publish(a->rc, "t:late", "late", 4), 0, "a publishes to t:late");
  ok(WAIT_FOR(b->nmsg == 1, 2000), "b receives it");
  is_mem(b->payload, b->len, "late", 4, "payload");
}

static void test_reconnect(tc *a, tc *b) {
  /* A NUMSUB in flight when the server dies gets an error, never a hang. */
  a->numsub_done = 0;
  is_int(sio__redis_client_numsub(a->rc, "t:plain", on_numsub, a), 0, "numsub queued");
  redis_kill();
  ok(WAIT_FOR(a->numsub_done, 2000), "pending numsub completes");
  is_int(a->numsub_status, UV_ECONNRESET, "with UV_ECONNRESET");
  ok(WAIT_FOR(!a->up && !b->up, 2000), "both clients see the loss");
  is_int(a->downs, 1, "on_state(down) once");

  const sio__redis_client_stats *st = sio__redis_client_stats_get(a->rc);
  uint64_t failed = st->publish_failed;
  is_int(sio__redis_client_publish(a->rc, "t:plain", "x", 1), UV_ENOTCONN,
         "publish while down fails");
  is_int(st->publish_failed, failed + 1, "publish_failed counts it");
  is_int(sio__redis_client_numsub(a->rc, "t:plain", on_numsub, a), UV_ENOTCONN,
         "numsub while down fails");
  RUN_FOR(400); /* a few reconnect attempts fail */
  ok(!a->up, "still down");

  ok(redis_start() == 0, "redis-server restarted on port %d", redis_port);
  uint64_t t0 = uv_now(&loop);
  ok(WAIT_FOR(a->up && b->up, 6000), "both clients come back up");
  /* The backoff is still short; a refused connect that went unnoticed until
   * the 3 s connect timeout (POLLERR dropped) would blow this. */
  ok(uv_now(&loop) - t0 < 2500, "within 2.5 s (%d ms)", (int)(uv_now(&loop) - t0));
  ok(st->reconnects >= 2, "reconnects counted (%llu)", (unsigned long long)st->reconnects);
  is_int(numsub(a, "t:plain"), 2, "subscriptions re-issued (NUMSUB 2)");
  int na = a->nmsg, nb = b->nmsg;
  is_int(sio__redis_client_publish(a->rc, "t:plain", bin, sizeof bin), 0, "publish again");
  ok(WAIT_FOR(a->nmsg == na + 1 && b->nmsg == nb + 1, 2000), "both receive it");
  is_mem(b->payload, b->len, bin, sizeof bin, "payload intact after reconnect");
  is_int(sio__redis_client_publish(a->rc, "t:pat:x", "p", 1), 0, "publish to the pattern");
  ok(WAIT_FOR(a->nmsg == na + 2, 2000), "pattern subscription restored");
  is_str(a->pattern, "t:pat:*", "pattern");
  RUN_FOR(50);
  is_int(b->nmsg, nb + 1, "b got no pattern message");
}

static void test_close_flushes(tc *a, tc *b) {
  /* Publish, then close at once: the PUBLISH still reaches Redis. */
  int nb = b->nmsg;
  is_int(sio__redis_client_publish(a->rc, "t:plain", "bye", 3), 0, "publish just before close");
  const sio__redis_client_stats st = *sio__redis_client_stats_get(a->rc);
  tc_close(a);
  ok(WAIT_FOR(b->nmsg == nb + 1, 2000), "the last message is delivered");
  is_mem(b->payload, b->len, "bye", 3, "payload");
  is_int(st.publish_lost, 0, "nothing lost");
}

static void test_close_in_callback(void) {
  tc d;
  ok(tc_open(&d, "redis://127.0.0.1:0") == UV_EINVAL, "port 0 is rejected");
  char url[64];
  snprintf(url, sizeof url, "redis://127.0.0.1:%d/3", redis_port);
  ok(tc_open(&d, url) == 0, "client on db 3");
  d.close_in_message = 1;
  sio__redis_client_subscribe(d.rc, "t:d", NULL, NULL);
  sio__redis_client_subscribe(d.rc, "t:d2", on_sub, &d);
  ok(WAIT_FOR(d.up, 3000), "up");
  /* Two messages in one read: the first closes the client from on_message,
   * the second must not be delivered. */
  sio__redis_client_publish(d.rc, "t:d", "1", 1);
  sio__redis_client_publish(d.rc, "t:d", "2", 1);
  ok(WAIT_FOR(d.nmsg >= 1, 2000), "message arrives");
  RUN_FOR(100);
  is_int(d.nmsg, 1, "nothing delivered after close");
  is_int(d.subs_ok, 1, "subscription confirmed earlier");
}

static void test_close_while_down(tc *b) {
  redis_kill();
  ok(WAIT_FOR(!b->up, 2000), "b sees the loss");
  RUN_FOR(150); /* a reconnect attempt failed, the next is pending */
  int downs = b->downs;
  tc_close(b);
  is_int(b->downs, downs, "no on_state during close");

  /* Never connected: closed while connecting, and after failed attempts. */
  char url[64];
  snprintf(url, sizeof url, "redis://127.0.0.1:%d", redis_port);
  tc c;
  ok(tc_open(&c, url) == 0, "client against a dead server");
  sio__redis_client_subscribe(c.rc, "t:c", on_sub, &c);
  tc_close(&c);
  is_int(c.subs_cancelled, 1, "unconfirmed subscription cancelled at close");
  is_int(c.ups, 0, "never up");

  snprintf(url, sizeof url, "redis://localhost:%d", redis_port);
  ok(tc_open(&c, url) == 0, "client by name against a dead server");
  RUN_FOR(350);
  is_int(sio__redis_client_publish(c.rc, "t:c", "x", 1), UV_ENOTCONN, "publish fails");
  tc_close(&c);
  ok(tc_open(&c, url) == 0, "closed right after create (resolving)");
  tc_close(&c);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  /* meson passes the redis-server it found; otherwise look in PATH. */
  const char *env = getenv("SIO_REDIS_SERVER");
  if (env && *env && access(env, X_OK) == 0) snprintf(redis_bin, sizeof redis_bin, "%s", env);
  else if (find_in_path("redis-server", redis_bin, sizeof redis_bin) != 0) {
    printf("1..0 # SKIP redis-server not installed\n");
    return 0;
  }
  sio__log_init(); /* SIO_LOG=debug shows every reconnect attempt */
  signal(SIGALRM, on_alarm);
  alarm(30);
  uv_loop_init(&loop);
  uv_timer_init(&loop, &tick);
  uv_timer_start(&tick, on_tick, 5, 5);

  test_urls();

  redis_port = free_port();
  if (redis_port <= 0 || redis_start() != 0) {
    printf("Bail out! cannot start %s on port %d\n", redis_bin, redis_port);
    redis_kill();
    return 1;
  }
  char url[64];
  tc a, b;
  snprintf(url, sizeof url, "redis://127.0.0.1:%d", redis_port);
  ok(tc_open(&a, url) == 0, "client a");
  snprintf(url, sizeof url, "redis://localhost:%d/1", redis_port);
  ok(tc_open(&b, url) == 0, "client b");
  test_pubsub(&a);
  test_numsub(&a, &b);
  test_reconnect(&a, &b);
  test_close_in_callback();
  test_close_flushes(&a, &b);
  test_close_while_down(&b);

  redis_kill();
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  is_int(uv_loop_close(&loop), 0, "every handle released");
  return tap_done();
}
