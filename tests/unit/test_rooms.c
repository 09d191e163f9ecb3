/* Rooms and broadcast recipient selection (lib/src/sio/sio_rooms.c),
 * without a network: the .c is included and the two functions it calls to
 * encode and send are replaced by recorders. */
#include "../../lib/src/sio/sio_rooms.c"
#include "tap.h"

/* No onAnyOutgoing listener here, so no socket is ever freed by the walk. */
void sio__socket_free(sio_socket_t *s) { abort(); }

/* Connection state recovery (sio_recovery.c) stays off here: nsp.rec is NULL. */
json_t *sio__rec_offset_data(sio_namespace_t *nsp, const json_t *data, uint64_t *seq) { abort(); }
void sio__rec_store(sio_namespace_t *nsp, uint64_t seq, sio__encoded *enc, const char *const *rooms,
                    size_t nrooms, const char *const *except, size_t nexcept) { abort(); }

/* ---- stand-ins for sio_server.c / sio_socket.c / sio_codec.c / id.c ---- */

static sio__client *sent_to[64];
static size_t nsent, nencoded;

void sio__client_send(sio__client *c, sio__rbuf *text, sio__rbuf **atts, size_t natts) {
  if (nsent < 64) sent_to[nsent++] = c;
}

int sio__packet_encode(int type, const char *nsp, int64_t id, const json_t *data, sio__rbuf **text,
                       sio__rbuf ***atts, size_t *natts) {
  nencoded++;
  *text = sio__rbuf_new(16);
  *atts = NULL;
  *natts = 0;
  return 0;
}

int sio__reserved_event(const char *event) { return strcmp(event, "connect") == 0; }

json_t *sio__event_array(const char *event, json_t *args) {
  json_decref(args);
  return json_pack("[s]", event);
}

#include "util/id.h"
int sio__random_bytes(void *out, size_t n) {
  memset(out, 0x5a, n);
  return 0;
}

/* ---- fixtures ---- */

#define N 6
static sio_server_t srv;
static sio_namespace_t nsp;
static sio_socket_t socks[N];
static sio__client clients[N];

static void setup(void) {
  memset(&nsp, 0, sizeof nsp);
  nsp.name = "/";
  nsp.srv = &srv;
  nsp.node.key = nsp.name;
  nsp.node.klen = 1;
  sio__hmap_init(&srv.nsps);
  sio__hmap_put(&srv.nsps, &nsp.node);
  sio__hmap_init(&nsp.sockets);
  sio__hmap_init(&nsp.rooms);
  for (int i = 0; i < N; i++) {
    memset(&socks[i], 0, sizeof socks[i]);
    socks[i].id = socks[i].id_buf;
    snprintf(socks[i].id_buf, sizeof socks[i].id_buf, "socket-%013d", i);
    socks[i].node.key = socks[i].id;
    socks[i].node.klen = 20;
    socks[i].nsp = &nsp;
    socks[i].client = &clients[i];
    socks[i].connected = 1;
    sio__hmap_put(&nsp.sockets, &socks[i].node);
  }
}

/* Recipients of the last broadcast as a bit mask of socket indexes. */
static unsigned recipients(void) {
  unsigned mask = 0;
  for (size_t i = 0; i < nsent; i++) mask |= 1u << (sent_to[i] - clients);
  return mask;
}

/* A cluster adapter that records what it is handed. */
static int forwarded;
static char fwd_rooms[64], fwd_except[64], fwd_event[16];
static void record_broadcast(sio_adapter_t *a, const sio_broadcast_info_t *bc) {
  forwarded++;
  fwd_rooms[0] = fwd_except[0] = 0;
  for (size_t i = 0; i < bc->nrooms; i++) strncat(fwd_rooms, bc->rooms[i], 10);
  for (size_t i = 0; i < bc->nexcept; i++) strncat(fwd_except, bc->except[i], 30);
  snprintf(fwd_event, sizeof fwd_event, "%s%s", bc->nsp, json_string_value(json_array_get(bc->data, 0)));
}

static unsigned run(sio_broadcast_t *b, int *count) {
  nsent = 0;
  *count = sio_bc_emit(b, "ev", NULL);
  return recipients();
}

int main(void) {
  setup();
  int count;
  /* Rooms: a(0,1,2) b(2,3) c(5). */
  sio_socket_join(&socks[0], "a");
  sio_socket_join(&socks[1], "a");
  sio_socket_join(&socks[2], "a");
  sio_socket_join(&socks[2], "b");
  sio_socket_join(&socks[3], "b");
  sio_socket_join(&socks[5], "c");
  is_int(sio_socket_join(&socks[0], "a"), 0, "joining twice is harmless");
  is_int(nsp.rooms.count, 3, "three rooms exist");
  ok(sio_socket_in_room(&socks[2], "a") && sio_socket_in_room(&socks[2], "b"), "socket 2 in a and b");
  ok(sio_socket_in_room(&socks[4], socks[4].id), "every socket is in its own-id room");
  ok(!sio_socket_in_room(&socks[4], "a"), "socket 4 not in a");

  is_int(run(sio_bc_new(&nsp), &count), 0x3f, "io.emit reaches every socket");
  is_int(count, 6, "... and counts six");
  is_int(nsent, 6, "each socket once");

  is_int(run(sio_bc_to(sio_bc_new(&nsp), "a"), &count), 0x07, "to(a)");
  is_int(run(sio_bc_to(sio_bc_to(sio_bc_new(&nsp), "a"), "b"), &count), 0x0f, "to(a).to(b): union");
  is_int(nsent, 4, "socket 2, in both rooms, once");
  is_int(run(sio_bc_except(sio_bc_to(sio_bc_new(&nsp), "a"), "b"), &count), 0x03, "to(a).except(b)");
  is_int(run(sio_bc_except(sio_bc_new(&nsp), "a"), &count), 0x38, "except(a) from everyone");
  is_int(run(sio_bc_to(sio_bc_new(&nsp), "nobody"), &count), 0, "unknown room: nobody");
  is_int(count, 0, "... and counts zero");

  /* socket.broadcast / socket.to(room): the sender is left out. */
  nsent = 0;
  is_int(sio_broadcast_emit(&socks[1], "ev", NULL), 5, "broadcast from 1 reaches 5");
  is_int(recipients(), 0x3d, "everyone but socket 1");
  is_int(run(sio_broadcast_to(&socks[1], "a"), &count), 0x05, "socket 1 to(a): 0 and 2");
  nsent = 0;
  sio_emit_to(&nsp, socks[4].id, "ev", NULL);
  is_int(recipients(), 0x10, "a socket id targets that socket");
  is_int(run(sio_bc_except(sio_bc_to(sio_bc_new(&nsp), "a"), socks[0].id), &count), 0x06,
         "except(a socket id)");

  /* Disconnected sockets are skipped; reserved names refused. */
  socks[3].connected = 0;
  is_int(run(sio_bc_to(sio_bc_new(&nsp), "b"), &count), 0x04, "disconnected socket skipped");
  socks[3].connected = 1;
  nsent = 0;
  is_int(sio_emit_all(&nsp, "connect", NULL), EIO_EINVAL, "reserved event name refused");
  is_int(nsent, 0, "... and nothing sent");

  /* Encode once, whatever the number of recipients. */
  nencoded = 0;
  run(sio_bc_new(&nsp), &count);
  is_int(nencoded, 1, "one encoding for six recipients");

  /* A cluster adapter: every broadcast is delivered here, then handed over
   * with its rooms and except lists; io.local ones are not. */
  sio_adapter_t adapter = {.broadcast = record_broadcast};
  sio_server_set_adapter(&srv, &adapter);
  forwarded = 0;
  is_int(run(sio_bc_except(sio_bc_to(sio_bc_to(sio_bc_new(&nsp), "a"), "b"), "c"), &count), 0x0f,
         "with an adapter: local delivery unchanged");
  is_int(forwarded, 1, "... and handed to the adapter once");
  is_str(fwd_rooms, "ab", "... with the target rooms");
  is_str(fwd_except, "c", "... the except rooms");
  is_str(fwd_event, "/ev", "... the namespace and the event");
  nsent = 0;
  sio_broadcast_emit(&socks[1], "ev", NULL);
  is_str(fwd_except, socks[1].id, "socket.broadcast: the sender's id in except");
  forwarded = 0;
  is_int(run(sio_bc_local(sio_bc_new(&nsp)), &count), 0x3f, "io.local reaches every local socket");
  is_int(forwarded, 0, "... and is not handed to the adapter");
  is_int(sio_emit_all(&nsp, "connect", NULL), EIO_EINVAL, "reserved name: refused");
  is_int(forwarded, 0, "... and not forwarded");
  /* From another node: local sockets only, rooms and except applied, never
   * forwarded again. */
  json_t *data = json_pack("[s,i]", "remote", 1);
  const char *rooms[] = {"a", "b"}, *except[] = {socks[0].id};
  sio_broadcast_info_t in = {"/", data, rooms, 2, except, 1, 0};
  nsent = 0;
  is_int(sio_adapter_deliver(&srv, &in), 3, "a remote broadcast reaches a∪b minus socket 0");
  is_int(recipients(), 0x0e, "... sockets 1, 2, 3");
  is_int(forwarded, 0, "... and is not forwarded back");
  in.nsp = "/other";
  is_int(sio_adapter_deliver(&srv, &in), 0, "an unknown namespace: nobody");
  json_t *bad = json_pack("[s]", "connect");
  sio_broadcast_info_t reserved = {"/", bad, NULL, 0, NULL, 0, 0};
  is_int(sio_adapter_deliver(&srv, &reserved), EIO_EINVAL, "a reserved event name from a node: refused");
  json_decref(bad);
  json_decref(data);
  sio_server_set_adapter(&srv, NULL);

  /* Leaving. */
  sio_socket_leave(&socks[5], "c");
  is_int(nsp.rooms.count, 2, "empty room removed");
  sio_socket_leave(&socks[5], "c");
  sio__rooms_leave_all(&socks[2]);
  ok(!sio_socket_in_room(&socks[2], "a") && !sio_socket_in_room(&socks[2], "b"), "leave_all");
  is_int(run(sio_bc_to(sio_bc_to(sio_bc_new(&nsp), "a"), "b"), &count), 0x0b, "after leave_all");
  for (int i = 0; i < N; i++) sio__rooms_leave_all(&socks[i]);
  is_int(nsp.rooms.count, 0, "no rooms left");

  /* Epoch wrap-around: marks from the previous cycle must not leak. */
  nsp.epoch = UINT32_MAX - 1;
  is_int(run(sio_bc_new(&nsp), &count), 0x3f, "before wrap");
  is_int(run(sio_bc_new(&nsp), &count), 0x3f, "across the wrap");
  is_int(run(sio_bc_new(&nsp), &count), 0x3f, "after the wrap");

  sio__hmap_free(&nsp.sockets);
  sio__hmap_free(&nsp.rooms);
  sio__hmap_free(&srv.nsps);
  return tap_done();
}
