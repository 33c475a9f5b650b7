// The BPF stream verdict program run on every chunk a spliced socket
// receives, and the per-socket entry it works on (verdict_program.c).
#ifndef VERDICT_PROGRAM_H
#define VERDICT_PROGRAM_H

#include <stddef.h>
#include <stdint.h>

/* How the program treats a socket's bytes. */
enum {
  /* Every chunk goes to the peer. */
  MOVE_ALL = 0,
  /* A MySQL client's commands: the program follows the packet framing and
   * sends a chunk that may hold a KILL (and every chunk after it) to the
   * process, which translates it; the rest goes to the peer. */
  MOVE_MYSQL_COMMANDS = 1,
};

/* The value `pairs` keeps for each spliced socket, keyed by its cookie. */
struct pair_entry {
  uint32_t peer; /* the peer's key in `targets` */
  uint32_t mode; /* MOVE_ALL or MOVE_MYSQL_COMMANDS */
  uint64_t bytes; /* bytes this socket received and the program redirected */
  uint64_t passed; /* bytes this socket received and the program left to the process */
  uint64_t event_key; /* what the diversion record says: token * 2 + side */
  /* MOVE_MYSQL_COMMANDS only, as of the start of the next chunk (or of the
   * diverted one): bytes of the current packet still to come, and the
   * previous packet's 4-byte header (length | sequence << 24). */
  uint32_t remaining;
  uint32_t previous_header;
  uint32_t diverted; /* set once a chunk went to the process: all later ones do too */
  uint32_t unused;
};

/* Most packets the program walks in one chunk; a chunk with more goes to the process. */
#define MAX_PACKETS_PER_CHUNK 64

/* Loads the program; the log gets the verifier's words if the kernel refuses it. */
int load_verdict_program(int pairs_map, int targets_map, int diversions_ring, char *log, size_t log_size);

#endif
