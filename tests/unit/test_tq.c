/* Deadline queues (util/tq.c) on a real libuv loop: firing order, re-arming
 * from a callback, cancelling the head and the middle, and that a queue's
 * timer does not keep the loop alive on its own. */
#include "tap.h"
#include "util/tq.h"

typedef struct item {
  sio__tq_node node;
  int id;
} item;

static int fired[32], nfired;
static uint64_t fired_at[32];
static int rearm_id = -1, rearm_left;
static item *cancel_on_fire;

static void on_fire(sio__tq *q, sio__tq_node *n) {
  item *it = (item *)n;
  fired_at[nfired] = uv_now(q->timer.loop);
  fired[nfired++] = it->id;
  ok(!sio__tq_armed(n), "node %d is disarmed when its callback runs", it->id);
  if (it->id == rearm_id && rearm_left-- > 0) sio__tq_arm(q, n);
  if (cancel_on_fire) {
    sio__tq_cancel(&cancel_on_fire->node);
    cancel_on_fire = NULL;
  }
}

static uv_timer_t keepalive;
static void keepalive_cb(uv_timer_t *t) { (void)t; }

int main(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  sio__tq q;
  sio__tq_init(&loop, &q, 30, on_fire, NULL);
  item items[4] = {{{0}, 0}, {{0}, 1}, {{0}, 2}, {{0}, 3}};

  /* Order is arming order; re-arming moves a node to the back. */
  uint64_t t0 = uv_now(&loop);
  for (int i = 0; i < 4; i++) sio__tq_arm(&q, &items[i].node);
  sio__tq_arm(&q, &items[0].node);
  sio__tq_cancel(&items[2].node);
  ok(!sio__tq_armed(&items[2].node), "cancelled node is disarmed");
  sio__tq_cancel(&items[2].node); /* twice is harmless */
  /* The timer is unreferenced: keep the loop alive for the test. */
  uv_timer_init(&loop, &keepalive);
  uv_timer_start(&keepalive, keepalive_cb, 200, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  is_int(nfired, 3, "three nodes fired");
  is_int(fired[0], 1, "first: node 1");
  is_int(fired[1], 3, "second: node 3");
  is_int(fired[2], 0, "third: node 0 (re-armed last)");
  ok(fired_at[0] - t0 >= 30, "fired no earlier than the delay (%d ms)", (int)(fired_at[0] - t0));

  /* Re-arming from the callback fires again one delay later. */
  nfired = 0;
  rearm_id = 1;
  rearm_left = 2;
  sio__tq_arm(&q, &items[1].node);
  uv_timer_start(&keepalive, keepalive_cb, 300, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  is_int(nfired, 3, "re-armed node fired three times");
  ok(fired_at[1] - fired_at[0] >= 30 && fired_at[2] - fired_at[1] >= 30, "each one delay apart");

  /* Cancelling the node behind the one firing, from its callback. */
  nfired = 0;
  rearm_id = -1;
  sio__tq_arm(&q, &items[0].node);
  sio__tq_arm(&q, &items[1].node);
  cancel_on_fire = &items[1];
  uv_timer_start(&keepalive, keepalive_cb, 200, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  is_int(nfired, 1, "the node cancelled from a callback did not fire");

  /* An empty queue with an unreferenced timer lets the loop end at once. */
  uint64_t before = uv_now(&loop);
  sio__tq_arm(&q, &items[3].node);
  sio__tq_cancel(&items[3].node);
  uv_run(&loop, UV_RUN_DEFAULT);
  ok(uv_now(&loop) - before < 25, "loop ended without waiting on the queue");

  sio__tq_close(&q, NULL);
  uv_close((uv_handle_t *)&keepalive, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  is_int(uv_loop_close(&loop), 0, "all handles closed");
  return tap_done();
}
