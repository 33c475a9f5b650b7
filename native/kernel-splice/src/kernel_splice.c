// Relays pairs of TCP sockets into each other inside the kernel.
//
// Two BPF sockmaps hold the sockets of each spliced pair: `targets` makes a
// socket a place bytes can be redirected to, `sources` runs a small stream
// verdict program (verdict_program.c) on every chunk a socket receives. The
// program looks the socket up by its cookie in `pairs`, counts the chunk's
// bytes there and redirects the chunk to the peer's send queue, so the bytes
// never reach user space and the process is not woken for them. A socket
// watched for MySQL commands may instead have a chunk left to the process
// (diverted): the program says so through the `diversions` ring.
//
// A watcher thread waits (epoll, edge-triggered) for either socket of a pair
// to be shut down by its peer or to fail, and for diversions, and reports
// them to JavaScript, which decides when the pair is drained and closes it.
//
// JavaScript API (all synchronous except the event callback):
//   open(capacity, onEvent(token, side, events))   one splicer per process;
//                    events are epoll's, or DIVERTED_EVENT
//   queued(fd)       -> bytes waiting in the socket's receive queue
//   splice(fdA, fdB) -> token, or -1 when the pair table is full
//   watch(token, side, remaining, previousHeader)  before start: the side
//                    carries MySQL commands, its framing standing there
//   start(token, side)  from now on the side's bytes go to the other
//   diversion(token, side) -> null, or [remaining, previousHeader, passed]
//                    once the side's bytes go to the process
//   reportReads(token, side)  the watcher reports each arrival (EPOLLIN) too
//   readDiverted(token, side) -> a Buffer, true at the end, false for nothing now
//   keepAlive(bool)     whether the watcher keeps the event loop alive
//   counters(token)  -> [sentByA, sentByB, takenByA, takenByB] (bytes since the splice)
//   release(token)
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <linux/sockios.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <node_api.h>

#include "verdict_program.h"

typedef struct {
  int fd[2];
  uint64_t cookie[2];
  /* What each socket had taken to send before the splice (acked + queued). */
  uint64_t base[2];
  uint32_t generation;
  bool used;
} pair_t;

typedef struct {
  int pairs_map, targets_map, sources_map, diversions_ring, program;
  /* The ring's pages: the consumer position (ours to write), then the
   * producer position and the records (the kernel's), mapped twice over so
   * a record never wraps. */
  uint64_t *ring_consumer;
  const uint64_t *ring_producer;
  size_t ring_size, ring_mapped;
  int epoll, wake;
  pthread_t watcher;
  bool watching;
  napi_threadsafe_function on_hangup;
  uint32_t capacity;
  pair_t *pairs;
  uint32_t *free_slots;
  uint32_t free_count;
} splicer_t;

typedef struct {
  uint64_t key; /* token * 2 + side */
  uint32_t events;
} hangup_t;

static const uint64_t WAKE_KEY = UINT64_MAX;
static const uint64_t RING_KEY = UINT64_MAX - 1;
/* An input-only epoll flag, so it never comes back from epoll_wait itself. */
static const uint32_t DIVERTED_EVENT = EPOLLONESHOT;

static long bpf(int cmd, union bpf_attr *attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static int map_create(uint32_t type, uint32_t key_size, uint32_t value_size, uint32_t entries, uint32_t flags) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.map_flags = flags;
  attr.map_type = type;
  attr.key_size = key_size;
  attr.value_size = value_size;
  attr.max_entries = entries;
  return (int)bpf(BPF_MAP_CREATE, &attr);
}

static int map_update(int map, const void *key, const void *value) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.map_fd = map;
  attr.key = (uint64_t)(uintptr_t)key;
  attr.value = (uint64_t)(uintptr_t)value;
  attr.flags = BPF_ANY;
  return (int)bpf(BPF_MAP_UPDATE_ELEM, &attr);
}

static int map_lookup(int map, const void *key, void *value) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.map_fd = map;
  attr.key = (uint64_t)(uintptr_t)key;
  attr.value = (uint64_t)(uintptr_t)value;
  return (int)bpf(BPF_MAP_LOOKUP_ELEM, &attr);
}

static void map_delete(int map, const void *key) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.map_fd = map;
  attr.key = (uint64_t)(uintptr_t)key;
  bpf(BPF_MAP_DELETE_ELEM, &attr); /* ENOENT: the socket closed and left the map already */
}

static int attach_verdict(int program, int map) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.target_fd = map;
  attr.attach_bpf_fd = program;
  attr.attach_type = BPF_SK_SKB_STREAM_VERDICT;
  return (int)bpf(BPF_PROG_ATTACH, &attr);
}

/* Bytes the socket has taken to send so far: acknowledged plus still queued.
 * Acked is read first: an ACK landing between the two reads makes the sum
 * smaller than the truth, never larger, so "all taken" is never said early. */
static int taken_to_send(int fd, uint64_t *taken) {
  struct tcp_info info;
  socklen_t length = sizeof(info);
  memset(&info, 0, sizeof(info));
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) < 0) return -errno;
  int queued = 0;
  if (ioctl(fd, SIOCOUTQ, &queued) < 0) return -errno;
  *taken = info.tcpi_bytes_acked + (uint64_t)queued;
  return 0;
}

static int socket_cookie(int fd, uint64_t *cookie) {
  socklen_t length = sizeof(*cookie);
  return getsockopt(fd, SOL_SOCKET, SO_COOKIE, cookie, &length) < 0 ? -errno : 0;
}

/* ---- JavaScript glue ---- */

static napi_value throw_errno(napi_env env, const char *what, int error) {
  char message[512];
  snprintf(message, sizeof(message), "%s: %s", what, strerror(error));
  const char *code = error == EPERM ? "EPERM" : error == EACCES ? "EACCES" : error == EINVAL ? "EINVAL"
                     : error == ENOSYS ? "ENOSYS" : error == EBADF ? "EBADF" : error == ENOMEM ? "ENOMEM"
                     : error == ENOTCONN ? "ENOTCONN" : error == EOPNOTSUPP ? "EOPNOTSUPP" : "ERR_KERNEL_SPLICE";
  napi_throw_error(env, code, message);
  return NULL;
}

static splicer_t *splicer_of(napi_env env) {
  splicer_t *splicer = NULL;
  napi_get_instance_data(env, (void **)&splicer);
  return splicer;
}

static void call_js(napi_env env, napi_value callback, void *context, void *data) {
  (void)context;
  hangup_t *hangup = data;
  if (env != NULL && callback != NULL) {
    napi_value argv[3], undefined;
    napi_create_double(env, (double)(hangup->key >> 1), &argv[0]);
    napi_create_uint32(env, (uint32_t)(hangup->key & 1), &argv[1]);
    napi_create_uint32(env, hangup->events, &argv[2]);
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, callback, 3, argv, NULL);
  }
  free(hangup);
}

static void report(splicer_t *splicer, uint64_t key, uint32_t events) {
  hangup_t *hangup = malloc(sizeof(*hangup));
  if (hangup == NULL) return;
  hangup->key = key;
  hangup->events = events;
  if (napi_call_threadsafe_function(splicer->on_hangup, hangup, napi_tsfn_nonblocking) != napi_ok) free(hangup);
}

/* Reports each diversion record the program wrote (an event key). */
static void read_diversions(splicer_t *splicer) {
  const uint8_t *records = (const uint8_t *)splicer->ring_producer + sysconf(_SC_PAGESIZE);
  uint64_t consumer = __atomic_load_n(splicer->ring_consumer, __ATOMIC_ACQUIRE);
  uint64_t producer = __atomic_load_n(splicer->ring_producer, __ATOMIC_ACQUIRE);
  while (consumer < producer) {
    const uint32_t *header = (const uint32_t *)(records + (consumer & (splicer->ring_size - 1)));
    uint32_t length = __atomic_load_n(header, __ATOMIC_ACQUIRE);
    if (length & BPF_RINGBUF_BUSY_BIT) break; /* still being written: its wake-up follows */
    uint32_t size = length & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
    if (!(length & BPF_RINGBUF_DISCARD_BIT) && size == sizeof(uint64_t)) {
      uint64_t key;
      memcpy(&key, (const uint8_t *)header + BPF_RINGBUF_HDR_SZ, sizeof(key));
      report(splicer, key, DIVERTED_EVENT);
    }
    consumer += (BPF_RINGBUF_HDR_SZ + size + 7) & ~7u;
    __atomic_store_n(splicer->ring_consumer, consumer, __ATOMIC_RELEASE);
    if (consumer == producer) producer = __atomic_load_n(splicer->ring_producer, __ATOMIC_ACQUIRE);
  }
}

static void *watch(void *argument) {
  splicer_t *splicer = argument;
  struct epoll_event events[64];
  for (;;) {
    int count = epoll_wait(splicer->epoll, events, 64, -1);
    if (count < 0) {
      if (errno == EINTR) continue;
      return NULL;
    }
    for (int i = 0; i < count; i++) {
      if (events[i].data.u64 == WAKE_KEY) return NULL;
      if (events[i].data.u64 == RING_KEY) read_diversions(splicer);
      else report(splicer, events[i].data.u64, events[i].events);
    }
  }
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static void stop_watching(void *data);

static void stop(splicer_t *splicer) {
  /* The hangup function is not released here: Node closes it as the environment ends. */
  stop_watching(splicer);
  close_fd(&splicer->epoll);
  close_fd(&splicer->wake);
  close_fd(&splicer->program);
  if (splicer->ring_consumer != NULL) munmap(splicer->ring_consumer, (size_t)sysconf(_SC_PAGESIZE));
  if (splicer->ring_producer != NULL) munmap((void *)splicer->ring_producer, splicer->ring_mapped);
  splicer->ring_consumer = NULL;
  splicer->ring_producer = NULL;
  close_fd(&splicer->diversions_ring);
  close_fd(&splicer->sources_map);
  close_fd(&splicer->targets_map);
  close_fd(&splicer->pairs_map);
  free(splicer->pairs);
  free(splicer->free_slots);
  splicer->pairs = NULL;
  splicer->free_slots = NULL;
}

/* Runs before Node's own teardown of the hangup function (hooks run in
 * reverse order of registration): no hangup can reach a deleted function. */
static void stop_watching(void *data) {
  splicer_t *splicer = data;
  if (splicer->watching) {
    uint64_t one = 1;
    ssize_t written;
    do written = write(splicer->wake, &one, sizeof(one));
    while (written < 0 && errno == EINTR);
    /* An eventfd write of 1 fails only if the counter would overflow: the thread is woken anyway. */
    pthread_join(splicer->watcher, NULL);
    splicer->watching = false;
  }
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  stop(data);
  free(data);
}

static bool get_args(napi_env env, napi_callback_info info, size_t expected, napi_value *argv) {
  size_t argc = expected;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < expected) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "missing arguments");
    return false;
  }
  return true;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  if (splicer_of(env) != NULL) {
    napi_throw_error(env, "ERR_KERNEL_SPLICE", "already open");
    return NULL;
  }
  uint32_t capacity = 0;
  if (napi_get_value_uint32(env, argv[0], &capacity) != napi_ok || capacity == 0 || capacity > (1u << 20)) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "capacity must be 1 to 1048576 pairs");
    return NULL;
  }
  splicer_t *splicer = calloc(1, sizeof(*splicer));
  if (splicer == NULL) return throw_errno(env, "allocating the splicer", ENOMEM);
  splicer->pairs_map = splicer->targets_map = splicer->sources_map = splicer->diversions_ring = -1;
  splicer->program = splicer->epoll = splicer->wake = -1;
  splicer->capacity = capacity;
  splicer->pairs = calloc(capacity, sizeof(pair_t));
  splicer->free_slots = calloc(capacity, sizeof(uint32_t));
  if (splicer->pairs == NULL || splicer->free_slots == NULL) {
    stop(splicer);
    free(splicer);
    return throw_errno(env, "allocating the pair table", ENOMEM);
  }
  for (uint32_t i = 0; i < capacity; i++) splicer->free_slots[i] = capacity - 1 - i;
  splicer->free_count = capacity;

  const char *step = "creating the maps";
  splicer->pairs_map = map_create(BPF_MAP_TYPE_HASH, sizeof(uint64_t), sizeof(struct pair_entry), capacity * 2,
                                  BPF_F_NO_PREALLOC);
  if (splicer->pairs_map < 0) goto fail;
  splicer->targets_map = map_create(BPF_MAP_TYPE_SOCKMAP, sizeof(uint32_t), sizeof(uint32_t), capacity * 2, 0);
  if (splicer->targets_map < 0) goto fail;
  splicer->sources_map = map_create(BPF_MAP_TYPE_SOCKMAP, sizeof(uint32_t), sizeof(uint32_t), capacity * 2, 0);
  if (splicer->sources_map < 0) goto fail;
  /* A socket is diverted at most once per splice, so the ring (two records'
   * room per pair) cannot fill while the watcher reads it. */
  step = "creating the diversions ring";
  splicer->ring_size = (size_t)sysconf(_SC_PAGESIZE);
  while (splicer->ring_size < (size_t)capacity * 2 * (BPF_RINGBUF_HDR_SZ + sizeof(uint64_t))) splicer->ring_size <<= 1;
  splicer->diversions_ring = map_create(BPF_MAP_TYPE_RINGBUF, 0, 0, (uint32_t)splicer->ring_size, 0);
  if (splicer->diversions_ring < 0) goto fail;
  void *consumer = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, MAP_SHARED,
                        splicer->diversions_ring, 0);
  if (consumer == MAP_FAILED) goto fail;
  splicer->ring_consumer = consumer;
  splicer->ring_mapped = (size_t)sysconf(_SC_PAGESIZE) + 2 * splicer->ring_size;
  void *producer = mmap(NULL, splicer->ring_mapped, PROT_READ, MAP_SHARED, splicer->diversions_ring,
                        sysconf(_SC_PAGESIZE));
  if (producer == MAP_FAILED) goto fail;
  splicer->ring_producer = producer;
  step = "loading the verdict program";
  char log[16384];
  log[0] = '\0';
  splicer->program =
      load_verdict_program(splicer->pairs_map, splicer->targets_map, splicer->diversions_ring, log, sizeof(log));
  if (splicer->program < 0) {
    /* The verifier's last line says why a kernel refused the program. */
    static _Thread_local char loading[400];
    size_t end = strlen(log);
    while (end > 0 && log[end - 1] == '\n') log[--end] = '\0';
    char *last = strrchr(log, '\n');
    last = last == NULL ? log : last + 1;
    if (*last != '\0') {
      snprintf(loading, sizeof(loading), "loading the verdict program (verifier: %.300s)", last);
      step = loading;
    }
    goto fail;
  }
  step = "attaching the verdict program";
  if (attach_verdict(splicer->program, splicer->sources_map) < 0) goto fail;
  step = "starting the watcher";
  splicer->epoll = epoll_create1(EPOLL_CLOEXEC);
  if (splicer->epoll < 0) goto fail;
  splicer->wake = eventfd(0, EFD_CLOEXEC);
  if (splicer->wake < 0) goto fail;
  struct epoll_event wake = {.events = EPOLLIN, .data.u64 = WAKE_KEY};
  if (epoll_ctl(splicer->epoll, EPOLL_CTL_ADD, splicer->wake, &wake) < 0) goto fail;
  struct epoll_event ring = {.events = EPOLLIN, .data.u64 = RING_KEY};
  if (epoll_ctl(splicer->epoll, EPOLL_CTL_ADD, splicer->diversions_ring, &ring) < 0) goto fail;

  napi_value name;
  napi_create_string_utf8(env, "kernel-splice hangup", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, NULL, NULL, NULL, call_js,
                                      &splicer->on_hangup) != napi_ok) {
    errno = ENOMEM;
    goto fail;
  }
  /* Only open pairs keep the process alive (keepAlive). */
  napi_unref_threadsafe_function(env, splicer->on_hangup);
  if (pthread_create(&splicer->watcher, NULL, watch, splicer) != 0) {
    napi_release_threadsafe_function(splicer->on_hangup, napi_tsfn_abort);
    errno = EAGAIN;
    goto fail;
  }
  splicer->watching = true;
  napi_add_env_cleanup_hook(env, stop_watching, splicer);
  napi_set_instance_data(env, splicer, finalize, NULL);
  return NULL;

fail: {
  int error = errno;
  stop(splicer);
  free(splicer);
  return throw_errno(env, step, error);
}
}

static bool get_fd(napi_env env, napi_value value, int *fd) {
  if (napi_get_value_int32(env, value, fd) != napi_ok || *fd < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "a file descriptor must be a non-negative integer");
    return false;
  }
  return true;
}

static splicer_t *open_splicer(napi_env env) {
  splicer_t *splicer = splicer_of(env);
  if (splicer == NULL) napi_throw_error(env, "ERR_KERNEL_SPLICE", "not open");
  return splicer;
}

/* Whether the pair's descriptor for `side` still is its socket: Node may
 * have closed it, and the number may name another socket by now. */
static bool still_open(const pair_t *pair, int side) {
  uint64_t cookie = 0;
  return socket_cookie(pair->fd[side], &cookie) == 0 && cookie == pair->cookie[side];
}

/* What JavaScript knows a pair by: its slot, and its generation in that slot. */
static uint64_t token_of(const splicer_t *splicer, uint32_t slot) {
  return (uint64_t)splicer->pairs[slot].generation * splicer->capacity + slot;
}

/* What the watcher reports a side's events with. */
static uint64_t event_key(const splicer_t *splicer, uint32_t slot, int side) {
  return token_of(splicer, slot) * 2 + (uint64_t)side;
}

static void unlink_pair(splicer_t *splicer, uint32_t slot, pair_t *pair) {
  /* No side redirects any more before either stops being a target. */
  for (int side = 0; side < 2; side++) {
    uint32_t key = slot * 2 + side;
    map_delete(splicer->sources_map, &key);
  }
  for (int side = 0; side < 2; side++) {
    uint32_t key = slot * 2 + side;
    map_delete(splicer->targets_map, &key);
    map_delete(splicer->pairs_map, &pair->cookie[side]);
    if (still_open(pair, side)) epoll_ctl(splicer->epoll, EPOLL_CTL_DEL, pair->fd[side], NULL);
  }
  pair->used = false;
  splicer->free_slots[splicer->free_count++] = slot;
}

/* The send buffer of a socket the kernel writes to. The kernel's send loop
 * retries a full socket only a scheduler tick later, so with the default
 * (autotuned up to tcp_wmem's 4 MiB) one bulk stream moves at half the
 * speed; the size is a limit, taken only while bytes wait to be sent. Set
 * with SO_SNDBUFFORCE (the splicer has CAP_NET_ADMIN): plain SO_SNDBUF is
 * capped by net.core.wmem_max and would shrink it on most systems. */
static const int REDIRECT_SEND_BUFFER = 4 << 20;

/* From now on the kernel redirects what `side` of the pair receives. */
static int start_redirects(splicer_t *splicer, uint32_t slot, int side) {
  pair_t *pair = &splicer->pairs[slot];
  if (!still_open(pair, side)) return EBADF;
  /* Best effort: the default size only makes bulk streams slower. */
  if (still_open(pair, 1 - side))
    setsockopt(pair->fd[1 - side], SOL_SOCKET, SO_SNDBUFFORCE, &REDIRECT_SEND_BUFFER, sizeof(REDIRECT_SEND_BUFFER));
  uint32_t key = slot * 2 + side;
  uint32_t value = (uint32_t)pair->fd[side];
  if (map_update(splicer->sources_map, &key, &value) < 0) return errno;
  /* Setting the low-water mark makes TCP offer what already waits in the
   * receive queue to the program now, not at the next arrival. */
  int one = 1;
  if (setsockopt(pair->fd[side], SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one)) < 0) {
    int error = errno;
    /* The caller relays this side itself then: the kernel must not move its bytes too. */
    map_delete(splicer->sources_map, &key);
    return error;
  }
  return 0;
}

static napi_value js_splice(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  if (!get_args(env, info, 2, argv)) return NULL;
  splicer_t *splicer = open_splicer(env);
  if (splicer == NULL) return NULL;
  int fd[2];
  if (!get_fd(env, argv[0], &fd[0]) || !get_fd(env, argv[1], &fd[1])) return NULL;
  if (splicer->free_count == 0) {
    napi_create_int32(env, -1, &result);
    return result;
  }
  uint32_t slot = splicer->free_slots[--splicer->free_count];
  pair_t *pair = &splicer->pairs[slot];
  pair->generation += 1;
  pair->used = true;
  pair->fd[0] = pair->fd[1] = -1;
  pair->cookie[0] = pair->cookie[1] = 0;
  const char *step = "reading the socket cookies";
  int error = 0;
  for (int side = 0; side < 2; side++) {
    pair->fd[side] = fd[side];
    if ((error = -socket_cookie(fd[side], &pair->cookie[side])) != 0) goto fail;
    if ((error = -taken_to_send(fd[side], &pair->base[side])) != 0) goto fail;
  }
  /* Targets first: a redirect must never find its peer missing. */
  step = "adding the sockets to the target map";
  for (int side = 0; side < 2; side++) {
    uint32_t key = slot * 2 + side;
    uint32_t value = (uint32_t)fd[side];
    if (map_update(splicer->targets_map, &key, &value) < 0) goto fail_errno;
  }
  step = "pairing the sockets";
  for (int side = 0; side < 2; side++) {
    struct pair_entry entry = {.peer = slot * 2 + (1 - side), .mode = MOVE_ALL, .event_key = event_key(splicer, slot, side)};
    if (map_update(splicer->pairs_map, &pair->cookie[side], &entry) < 0) goto fail_errno;
  }
  step = "watching the sockets";
  for (int side = 0; side < 2; side++) {
    struct epoll_event event = {.events = EPOLLRDHUP | EPOLLET, .data.u64 = event_key(splicer, slot, side)};
    if (epoll_ctl(splicer->epoll, EPOLL_CTL_ADD, fd[side], &event) < 0) goto fail_errno;
  }
  napi_create_double(env, (double)token_of(splicer, slot), &result);
  return result;

fail_errno:
  error = errno;
fail:
  unlink_pair(splicer, slot, pair);
  return throw_errno(env, step, error);
}

/* The pair named by the call's token argument; NULL when it is released or
 * never was, with an exception pending if `required`. */
static pair_t *pair_argument(napi_env env, napi_callback_info info, bool required, splicer_t **splicer,
                             uint32_t *slot) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  *splicer = open_splicer(env);
  if (*splicer == NULL) return NULL;
  double token = -1;
  pair_t *pair = NULL;
  /* Tokens are whole numbers below 2^53, as splice() made them. */
  if (napi_get_value_double(env, argv[0], &token) == napi_ok && token >= 0 && token < 9007199254740992.0 &&
      token == (double)(uint64_t)token) {
    uint64_t whole = (uint64_t)token;
    *slot = (uint32_t)(whole % (*splicer)->capacity);
    pair = &(*splicer)->pairs[*slot];
    if (!pair->used || pair->generation != (uint32_t)(whole / (*splicer)->capacity)) pair = NULL;
  }
  if (pair == NULL && required) napi_throw_error(env, "ERR_KERNEL_SPLICE", "no such pair");
  return pair;
}

static napi_value js_counters(napi_env env, napi_callback_info info) {
  splicer_t *splicer;
  uint32_t slot;
  pair_t *pair = pair_argument(env, info, true, &splicer, &slot);
  if (pair == NULL) return NULL;
  napi_value result;
  napi_create_array_with_length(env, 4, &result);
  for (int side = 0; side < 2; side++) {
    /* Taking the socket's lock waits out a verdict still running on it. */
    int queued = 0;
    if (still_open(pair, side)) ioctl(pair->fd[side], SIOCINQ, &queued);
    struct pair_entry entry = {0};
    if (map_lookup(splicer->pairs_map, &pair->cookie[side], &entry) < 0)
      return throw_errno(env, "reading the pair counters", errno);
    napi_value sent;
    napi_create_double(env, (double)entry.bytes, &sent);
    napi_set_element(env, result, side, sent);
  }
  for (int side = 0; side < 2; side++) {
    /* -1 once the socket is closed: what it sent is still known, what it took is not. */
    uint64_t taken = 0;
    napi_value value;
    if (still_open(pair, side) && taken_to_send(pair->fd[side], &taken) == 0) napi_create_double(env, (double)(taken - pair->base[side]), &value);
    else napi_create_int32(env, -1, &value);
    napi_set_element(env, result, 2 + side, value);
  }
  return result;
}

/* A call about one side of a pair: its (token, side) arguments. */
typedef struct {
  splicer_t *splicer;
  pair_t *pair;
  uint32_t slot;
  int side;
} side_call_t;

/* False, with an exception pending, when the token or the side is wrong. */
static bool side_call(napi_env env, napi_callback_info info, side_call_t *call) {
  napi_value argv[2];
  size_t argc = 2;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t value = 2;
  if (argc < 2 || napi_get_value_uint32(env, argv[1], &value) != napi_ok || value > 1) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "side must be 0 or 1");
    return false;
  }
  call->side = (int)value;
  call->pair = pair_argument(env, info, true, &call->splicer, &call->slot);
  return call->pair != NULL;
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  side_call_t call;
  if (!side_call(env, info, &call)) return NULL;
  int error = start_redirects(call.splicer, call.slot, call.side);
  return error == 0 ? NULL : throw_errno(env, "adding a socket to the source map", error);
}

static napi_value js_watch(napi_env env, napi_callback_info info) {
  side_call_t call;
  if (!side_call(env, info, &call)) return NULL;
  napi_value argv[4];
  size_t argc = 4;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t remaining, previous_header;
  if (argc < 4 || napi_get_value_uint32(env, argv[2], &remaining) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &previous_header) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "the framing must be two unsigned 32-bit numbers");
    return NULL;
  }
  struct pair_entry entry;
  if (map_lookup(call.splicer->pairs_map, &call.pair->cookie[call.side], &entry) < 0)
    return throw_errno(env, "reading the pair entry", errno);
  entry.mode = MOVE_MYSQL_COMMANDS;
  entry.remaining = remaining;
  entry.previous_header = previous_header;
  if (map_update(call.splicer->pairs_map, &call.pair->cookie[call.side], &entry) < 0)
    return throw_errno(env, "writing the pair entry", errno);
  return NULL;
}

static napi_value js_diversion(napi_env env, napi_callback_info info) {
  side_call_t call;
  if (!side_call(env, info, &call)) return NULL;
  /* Taking the socket's lock waits out a verdict still running on it. */
  int queued = 0;
  if (still_open(call.pair, call.side)) ioctl(call.pair->fd[call.side], SIOCINQ, &queued);
  struct pair_entry entry;
  if (map_lookup(call.splicer->pairs_map, &call.pair->cookie[call.side], &entry) < 0)
    return throw_errno(env, "reading the pair entry", errno);
  napi_value result;
  if (!entry.diverted) {
    napi_get_null(env, &result);
    return result;
  }
  napi_value remaining, previous_header, passed;
  napi_create_uint32(env, entry.remaining, &remaining);
  napi_create_uint32(env, entry.previous_header, &previous_header);
  napi_create_double(env, (double)entry.passed, &passed);
  napi_create_array_with_length(env, 3, &result);
  napi_set_element(env, result, 0, remaining);
  napi_set_element(env, result, 1, previous_header);
  napi_set_element(env, result, 2, passed);
  return result;
}

static napi_value js_report_reads(napi_env env, napi_callback_info info) {
  side_call_t call;
  if (!side_call(env, info, &call)) return NULL;
  if (!still_open(call.pair, call.side)) return throw_errno(env, "watching a socket's arrivals", EBADF);
  struct epoll_event event = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET,
                              .data.u64 = event_key(call.splicer, call.slot, call.side)};
  if (epoll_ctl(call.splicer->epoll, EPOLL_CTL_MOD, call.pair->fd[call.side], &event) < 0)
    return throw_errno(env, "watching a socket's arrivals", errno);
  return NULL;
}

/* What the program left to the process arrives in the socket's own queue. */
static napi_value js_read_diverted(napi_env env, napi_callback_info info) {
  side_call_t call;
  if (!side_call(env, info, &call)) return NULL;
  if (!still_open(call.pair, call.side)) return throw_errno(env, "reading diverted bytes", EBADF);
  /* On the stack: each environment (worker thread) reads its own. */
  uint8_t chunk[64 * 1024];
  ssize_t count;
  do count = recv(call.pair->fd[call.side], chunk, sizeof(chunk), MSG_DONTWAIT);
  while (count < 0 && errno == EINTR);
  napi_value result;
  if (count > 0) {
    napi_create_buffer_copy(env, (size_t)count, chunk, NULL, &result);
  } else if (count == 0) {
    napi_get_boolean(env, true, &result);
  } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
    napi_get_boolean(env, false, &result);
  } else {
    return throw_errno(env, "reading diverted bytes", errno);
  }
  return result;
}

static napi_value js_keep_alive(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  splicer_t *splicer = open_splicer(env);
  if (splicer == NULL) return NULL;
  bool keep = false;
  napi_get_value_bool(env, argv[0], &keep);
  if (keep) napi_ref_threadsafe_function(env, splicer->on_hangup);
  else napi_unref_threadsafe_function(env, splicer->on_hangup);
  return NULL;
}

static napi_value js_queued(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  if (!get_args(env, info, 1, argv)) return NULL;
  int fd;
  if (!get_fd(env, argv[0], &fd)) return NULL;
  int queued = 0;
  if (ioctl(fd, SIOCINQ, &queued) < 0) return throw_errno(env, "reading the receive queue", errno);
  napi_create_int32(env, queued, &result);
  return result;
}

static napi_value js_release(napi_env env, napi_callback_info info) {
  splicer_t *splicer;
  uint32_t slot;
  pair_t *pair = pair_argument(env, info, false, &splicer, &slot);
  if (pair != NULL) unlink_pair(splicer, slot, pair);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"splice", NULL, js_splice, NULL, NULL, NULL, napi_default, NULL},
      {"queued", NULL, js_queued, NULL, NULL, NULL, napi_default, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"watch", NULL, js_watch, NULL, NULL, NULL, napi_default, NULL},
      {"diversion", NULL, js_diversion, NULL, NULL, NULL, napi_default, NULL},
      {"reportReads", NULL, js_report_reads, NULL, NULL, NULL, napi_default, NULL},
      {"readDiverted", NULL, js_read_diverted, NULL, NULL, NULL, napi_default, NULL},
      {"keepAlive", NULL, js_keep_alive, NULL, NULL, NULL, napi_default, NULL},
      {"counters", NULL, js_counters, NULL, NULL, NULL, napi_default, NULL},
      {"release", NULL, js_release, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(properties) / sizeof(properties[0]), properties);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
