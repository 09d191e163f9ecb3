#include "util/tq.h"

#include <stddef.h>

static void tq_fire(uv_timer_t *t);

static void tq_schedule(sio__tq *q) {
  if (!q->head) {
    uv_timer_stop(&q->timer);
    return;
  }
  uint64_t now = uv_now(q->timer.loop);
  uv_timer_start(&q->timer, tq_fire, q->head->due > now ? q->head->due - now : 0, 0);
}

static void tq_unlink(sio__tq_node *n) {
  sio__tq *q = n->q;
  if (n->prev) n->prev->next = n->next; else q->head = n->next;
  if (n->next) n->next->prev = n->prev; else q->tail = n->prev;
  n->prev = n->next = NULL;
  n->q = NULL;
}

static void tq_fire(uv_timer_t *t) {
  sio__tq *q = (sio__tq *)t->data;
  uint64_t now = uv_now(t->loop);
  /* Nodes armed by the callbacks below land behind `now`, so the loop ends. */
  while (q->head && q->head->due <= now) {
    sio__tq_node *n = q->head;
    tq_unlink(n);
    q->cb(q, n);
  }
  tq_schedule(q);
}

void sio__tq_init(uv_loop_t *loop, sio__tq *q, uint64_t delay_ms, sio__tq_cb cb, void *data) {
  uv_timer_init(loop, &q->timer);
  q->timer.data = q;
  q->delay = delay_ms;
  q->head = q->tail = NULL;
  q->cb = cb;
  q->data = data;
  /* The timer alone must not keep the loop alive once everything else is gone. */
  uv_unref((uv_handle_t *)&q->timer);
}

void sio__tq_arm(sio__tq *q, sio__tq_node *n) {
  if (n->q) sio__tq_cancel(n);
  n->due = uv_now(q->timer.loop) + q->delay;
  n->q = q;
  n->next = NULL;
  n->prev = q->tail;
  if (q->tail) q->tail->next = n; else q->head = n;
  q->tail = n;
  if (q->head == n) tq_schedule(q);
}

void sio__tq_cancel(sio__tq_node *n) {
  sio__tq *q = n->q;
  if (!q) return;
  int was_head = q->head == n;
  tq_unlink(n);
  /* A stale timer firing early is harmless (nothing due), so only stop it
   * when the queue is empty. */
  if (was_head && !q->head) uv_timer_stop(&q->timer);
}

void sio__tq_close(sio__tq *q, uv_close_cb cb) {
  uv_timer_stop(&q->timer);
  uv_close((uv_handle_t *)&q->timer, cb);
}
