/* Deadline queues: cheap timeouts for many objects sharing one delay.
 *
 * Every timeout the server keeps per session or connection (ping interval,
 * ping timeout, upgrade poll, header timeout, keep-alive) has a delay that is
 * the same for all of them. Appending a node at now+delay therefore keeps a
 * FIFO list sorted by deadline, so one uv_timer per queue (set for the head)
 * replaces one timer per object: arming and cancelling are O(1) pointer
 * updates, and a node costs 32 bytes instead of a 150-byte uv_timer_t. */
#ifndef SIO_UTIL_TQ_H
#define SIO_UTIL_TQ_H

#include <stdint.h>
#include <uv.h>

typedef struct sio__tq sio__tq;

typedef struct sio__tq_node {
  struct sio__tq_node *prev, *next;
  sio__tq *q;    /* queue the node is armed in, NULL when idle */
  uint64_t due;  /* loop time (ms) at which it fires */
} sio__tq_node;

/* Called for each expired node, already removed from the queue; it may re-arm
 * it or any other node, or cancel other nodes. */
typedef void (*sio__tq_cb)(sio__tq *q, sio__tq_node *node);

struct sio__tq {
  uv_timer_t timer;
  uint64_t delay;
  sio__tq_node *head, *tail;
  sio__tq_cb cb;
  void *data;
};

void sio__tq_init(uv_loop_t *loop, sio__tq *q, uint64_t delay_ms, sio__tq_cb cb, void *data);
/* (Re)arms node to fire `delay` ms from the loop's current time. */
void sio__tq_arm(sio__tq *q, sio__tq_node *node);
/* Removes node from whatever queue it is in; no-op when idle. */
void sio__tq_cancel(sio__tq_node *node);
static inline int sio__tq_armed(const sio__tq_node *node) { return node->q != NULL; }
/* Closes the timer handle (call from teardown; nodes must be cancelled first). */
void sio__tq_close(sio__tq *q, uv_close_cb cb);

#endif
