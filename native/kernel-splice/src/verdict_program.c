// The stream verdict program, assembled here so that no BPF compiler is
// needed: a few helpers emit instructions, and jumps name labels that are
// resolved once the program is complete.
//
// For each chunk a spliced socket receives:
//   entry = pairs[socket cookie]          no entry: SK_PASS (not ours)
//   empty chunk: SK_DROP                  (only the peer's FIN, which TCP has noted)
//   MOVE_ALL: redirect it to the peer
//   MOVE_MYSQL_COMMANDS:
//     diverted before: leave it to the process (SK_PASS), counted
//     walk the MySQL packets the chunk holds; if one starts a command that the
//     process's KILL translator would look at (COM_PROCESS_KILL, or a
//     COM_QUERY whose text starts with "K", "k" or a blank), or a header is
//     cut, or the chunk holds too many packets: mark the socket diverted, write
//     its event key to the `diversions` ring (which wakes the watcher) and
//     leave the chunk to the process; else save where the framing stands and
//     redirect the chunk to the peer.
// The framing rules are those of src/proxy/mysql/kill-translator.ts, whose
// state the entry carries from chunk to chunk.
#include "verdict_program.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

enum label {
  PASS,
  DROP,
  REDIRECT,
  TO_PROCESS,
  DIVERT,
  INSIDE_PACKET,
  NEXT_HEADER,
  NEXT_PACKET,
  CANDIDATE,
  QUERY_TEXT,
  LABEL_COUNT,
};

#define MAX_INSNS 160

typedef struct {
  struct bpf_insn insn[MAX_INSNS];
  int jump_to[MAX_INSNS]; /* the label a jump goes to, or -1 */
  int at[LABEL_COUNT];    /* where each label is */
  int count;
} program_t;

#define INSN(c, d, s, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})

static void emit(program_t *p, struct bpf_insn insn) {
  if (p->count >= MAX_INSNS) return; /* caught by the size check in load_verdict_program */
  p->jump_to[p->count] = -1;
  p->insn[p->count++] = insn;
}

static void mark(program_t *p, enum label label) { p->at[label] = p->count; }

/* if (dst <op> imm) goto label */
static void jump_if(program_t *p, int op, int dst, int32_t imm, enum label label) {
  emit(p, INSN(BPF_JMP | op | BPF_K, dst, 0, 0, imm));
  p->jump_to[p->count - 1] = label;
}

/* if (dst <op> src) goto label */
static void jump_if_reg(program_t *p, int op, int dst, int src, enum label label) {
  emit(p, INSN(BPF_JMP | op | BPF_X, dst, src, 0, 0));
  p->jump_to[p->count - 1] = label;
}

static void go_to(program_t *p, enum label label) {
  emit(p, INSN(BPF_JMP | BPF_JA, 0, 0, 0, 0));
  p->jump_to[p->count - 1] = label;
}

static void mov(program_t *p, int dst, int src) { emit(p, INSN(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0)); }
static void mov_imm(program_t *p, int dst, int32_t imm) { emit(p, INSN(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)); }
static void alu_imm(program_t *p, int op, int dst, int32_t imm) { emit(p, INSN(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm)); }
static void alu(program_t *p, int op, int dst, int src) { emit(p, INSN(BPF_ALU64 | op | BPF_X, dst, src, 0, 0)); }
static void load(program_t *p, int size, int dst, int src, int16_t off) { emit(p, INSN(BPF_LDX | BPF_MEM | size, dst, src, off, 0)); }
static void store(program_t *p, int size, int dst, int16_t off, int src) { emit(p, INSN(BPF_STX | BPF_MEM | size, dst, src, off, 0)); }
static void store_imm(program_t *p, int size, int dst, int16_t off, int32_t imm) { emit(p, INSN(BPF_ST | BPF_MEM | size, dst, 0, off, imm)); }
static void call(program_t *p, int helper) { emit(p, INSN(BPF_JMP | BPF_CALL, 0, 0, 0, helper)); }
static void exit_with(program_t *p, int32_t verdict) {
  mov_imm(p, BPF_REG_0, verdict);
  emit(p, INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
}
static void load_map(program_t *p, int dst, int map) {
  emit(p, INSN(BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, 0, map));
  emit(p, INSN(0, 0, 0, 0, 0));
}
/* dst = the 32-bit little-endian value at dst (a MySQL header), on any host. */
static void from_le32(program_t *p, int dst) { emit(p, INSN(BPF_ALU | BPF_END | BPF_TO_LE, dst, 0, 0, 32)); }

/* skb_load_bytes(skb, r9 + offset, fp + stack, 4); any failure diverts. */
static void load_four_bytes(program_t *p, int32_t offset, int16_t stack) {
  mov(p, BPF_REG_1, BPF_REG_6);
  mov(p, BPF_REG_2, BPF_REG_9);
  if (offset != 0) alu_imm(p, BPF_ADD, BPF_REG_2, offset);
  mov(p, BPF_REG_3, BPF_REG_10);
  alu_imm(p, BPF_ADD, BPF_REG_3, stack);
  mov_imm(p, BPF_REG_4, 4);
  call(p, BPF_FUNC_skb_load_bytes);
  jump_if(p, BPF_JNE, BPF_REG_0, 0, DIVERT);
}

/* MySQL, as in kill-translator.ts */
enum {
  HEADER_SIZE = 4,
  COM_QUERY = 0x03,
  COM_PROCESS_KILL = 0x0c,
  MIN_KILL_PAYLOAD = 5,
  MAX_KILL_PAYLOAD = 256,
  MAX_PAYLOAD = 0xffffff,
};

/* Stack slots */
enum { COOKIE = -8, HEADER = -16, COMMAND = -24, PREVIOUS = -32 };

#define LEN offsetof(struct __sk_buff, len)
#define ENTRY(field) offsetof(struct pair_entry, field)

/*
 * Registers: r6 the chunk (skb), r7 its socket's entry, r8 packets walked,
 * r9 where the next header starts in the chunk. r1-r5 are scratch (helpers
 * overwrite them), so the current and previous headers live on the stack.
 */
static void build(program_t *p, int pairs_map, int targets_map, int diversions_ring) {
  mov(p, BPF_REG_6, BPF_REG_1);
  call(p, BPF_FUNC_get_socket_cookie);
  store(p, BPF_DW, BPF_REG_10, COOKIE, BPF_REG_0);
  mov(p, BPF_REG_2, BPF_REG_10);
  alu_imm(p, BPF_ADD, BPF_REG_2, COOKIE);
  load_map(p, BPF_REG_1, pairs_map);
  call(p, BPF_FUNC_map_lookup_elem);
  jump_if(p, BPF_JEQ, BPF_REG_0, 0, PASS);
  mov(p, BPF_REG_7, BPF_REG_0);
  load(p, BPF_W, BPF_REG_1, BPF_REG_6, LEN);
  jump_if(p, BPF_JEQ, BPF_REG_1, 0, DROP);
  load(p, BPF_W, BPF_REG_2, BPF_REG_7, ENTRY(mode));
  jump_if(p, BPF_JEQ, BPF_REG_2, MOVE_ALL, REDIRECT);
  load(p, BPF_W, BPF_REG_2, BPF_REG_7, ENTRY(diverted));
  jump_if(p, BPF_JNE, BPF_REG_2, 0, TO_PROCESS);

  /* The whole chunk lies inside the current packet (a big INSERT, LOAD DATA contents). */
  load(p, BPF_W, BPF_REG_9, BPF_REG_7, ENTRY(remaining));
  jump_if_reg(p, BPF_JGE, BPF_REG_9, BPF_REG_1, INSIDE_PACKET);
  load(p, BPF_W, BPF_REG_2, BPF_REG_7, ENTRY(previous_header));
  store(p, BPF_DW, BPF_REG_10, PREVIOUS, BPF_REG_2);
  mov_imm(p, BPF_REG_8, 0);

  mark(p, NEXT_HEADER);
  jump_if(p, BPF_JGE, BPF_REG_8, MAX_PACKETS_PER_CHUNK, DIVERT);
  alu_imm(p, BPF_ADD, BPF_REG_8, 1);
  /* A header cut by the chunk's end: the process reads on from here. */
  mov(p, BPF_REG_2, BPF_REG_9);
  alu_imm(p, BPF_ADD, BPF_REG_2, HEADER_SIZE);
  load(p, BPF_W, BPF_REG_1, BPF_REG_6, LEN);
  jump_if_reg(p, BPF_JGT, BPF_REG_2, BPF_REG_1, DIVERT);
  load_four_bytes(p, 0, HEADER);
  load(p, BPF_W, BPF_REG_1, BPF_REG_10, HEADER);
  from_le32(p, BPF_REG_1);
  /* Only a packet with sequence id 0 and a KILL's length can be one. */
  mov(p, BPF_REG_2, BPF_REG_1);
  alu_imm(p, BPF_RSH, BPF_REG_2, 24);
  jump_if(p, BPF_JNE, BPF_REG_2, 0, NEXT_PACKET);
  alu_imm(p, BPF_AND, BPF_REG_1, MAX_PAYLOAD);
  jump_if(p, BPF_JLT, BPF_REG_1, MIN_KILL_PAYLOAD, NEXT_PACKET);
  jump_if(p, BPF_JGT, BPF_REG_1, MAX_KILL_PAYLOAD, NEXT_PACKET);
  /* Sequence 0 starts a command, unless it continues a 16 MiB packet or a
   * LOAD DATA stream (whose previous packet had sequence 255 and bytes). */
  load(p, BPF_DW, BPF_REG_2, BPF_REG_10, PREVIOUS);
  mov(p, BPF_REG_3, BPF_REG_2);
  alu_imm(p, BPF_AND, BPF_REG_3, MAX_PAYLOAD);
  jump_if(p, BPF_JEQ, BPF_REG_3, MAX_PAYLOAD, NEXT_PACKET);
  alu_imm(p, BPF_RSH, BPF_REG_2, 24);
  jump_if(p, BPF_JNE, BPF_REG_2, 0xff, CANDIDATE);
  jump_if(p, BPF_JNE, BPF_REG_3, 0, NEXT_PACKET);

  /* The command byte and the three after it must be in the chunk. */
  mark(p, CANDIDATE);
  mov(p, BPF_REG_2, BPF_REG_9);
  alu_imm(p, BPF_ADD, BPF_REG_2, HEADER_SIZE + 4);
  load(p, BPF_W, BPF_REG_1, BPF_REG_6, LEN);
  jump_if_reg(p, BPF_JGT, BPF_REG_2, BPF_REG_1, DIVERT);
  load_four_bytes(p, HEADER_SIZE, COMMAND);
  load(p, BPF_B, BPF_REG_1, BPF_REG_10, COMMAND);
  jump_if(p, BPF_JEQ, BPF_REG_1, COM_PROCESS_KILL, DIVERT);
  jump_if(p, BPF_JNE, BPF_REG_1, COM_QUERY, NEXT_PACKET);
  /* The text's first byte; with query attributes it follows "no parameters, one set". */
  load(p, BPF_B, BPF_REG_1, BPF_REG_10, COMMAND + 1);
  jump_if(p, BPF_JNE, BPF_REG_1, 0x00, QUERY_TEXT);
  load(p, BPF_B, BPF_REG_2, BPF_REG_10, COMMAND + 2);
  jump_if(p, BPF_JNE, BPF_REG_2, 0x01, QUERY_TEXT);
  load(p, BPF_B, BPF_REG_1, BPF_REG_10, COMMAND + 3);
  mark(p, QUERY_TEXT);
  mov(p, BPF_REG_2, BPF_REG_1);
  alu_imm(p, BPF_OR, BPF_REG_2, 0x20);
  jump_if(p, BPF_JEQ, BPF_REG_2, 'k', DIVERT);
  jump_if(p, BPF_JEQ, BPF_REG_1, ' ', DIVERT);
  jump_if(p, BPF_JEQ, BPF_REG_1, '\t', DIVERT);
  jump_if(p, BPF_JEQ, BPF_REG_1, '\n', DIVERT);
  jump_if(p, BPF_JEQ, BPF_REG_1, '\r', DIVERT);

  /* Past this packet: the header read again is the next one's previous. */
  mark(p, NEXT_PACKET);
  load(p, BPF_W, BPF_REG_1, BPF_REG_10, HEADER);
  from_le32(p, BPF_REG_1);
  store(p, BPF_DW, BPF_REG_10, PREVIOUS, BPF_REG_1);
  alu_imm(p, BPF_AND, BPF_REG_1, MAX_PAYLOAD);
  alu(p, BPF_ADD, BPF_REG_9, BPF_REG_1);
  alu_imm(p, BPF_ADD, BPF_REG_9, HEADER_SIZE);
  load(p, BPF_W, BPF_REG_1, BPF_REG_6, LEN);
  jump_if_reg(p, BPF_JLT, BPF_REG_9, BPF_REG_1, NEXT_HEADER);
  /* The chunk ends inside (or at the end of) its last packet. */
  alu(p, BPF_SUB, BPF_REG_9, BPF_REG_1);
  store(p, BPF_W, BPF_REG_7, ENTRY(remaining), BPF_REG_9);
  load(p, BPF_DW, BPF_REG_2, BPF_REG_10, PREVIOUS);
  store(p, BPF_W, BPF_REG_7, ENTRY(previous_header), BPF_REG_2);
  go_to(p, REDIRECT);

  mark(p, INSIDE_PACKET); /* r1 is still the chunk's length */
  alu(p, BPF_SUB, BPF_REG_9, BPF_REG_1);
  store(p, BPF_W, BPF_REG_7, ENTRY(remaining), BPF_REG_9);

  mark(p, REDIRECT);
  load(p, BPF_W, BPF_REG_1, BPF_REG_6, LEN);
  emit(p, INSN(BPF_STX | BPF_ATOMIC | BPF_DW, BPF_REG_7, BPF_REG_1, ENTRY(bytes), BPF_ADD));
  load(p, BPF_W, BPF_REG_3, BPF_REG_7, ENTRY(peer));
  mov(p, BPF_REG_1, BPF_REG_6);
  load_map(p, BPF_REG_2, targets_map);
  mov_imm(p, BPF_REG_4, 0);
  call(p, BPF_FUNC_sk_redirect_map);
  emit(p, INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));

  /* The entry keeps the framing as of this chunk's start, for the process. */
  mark(p, DIVERT);
  store_imm(p, BPF_W, BPF_REG_7, ENTRY(diverted), 1);
  load_map(p, BPF_REG_1, diversions_ring);
  mov(p, BPF_REG_2, BPF_REG_7);
  alu_imm(p, BPF_ADD, BPF_REG_2, ENTRY(event_key));
  mov_imm(p, BPF_REG_3, sizeof(uint64_t));
  mov_imm(p, BPF_REG_4, 0);
  call(p, BPF_FUNC_ringbuf_output);

  mark(p, TO_PROCESS);
  load(p, BPF_W, BPF_REG_1, BPF_REG_6, LEN);
  emit(p, INSN(BPF_STX | BPF_ATOMIC | BPF_DW, BPF_REG_7, BPF_REG_1, ENTRY(passed), BPF_ADD));

  mark(p, PASS);
  exit_with(p, SK_PASS);
  mark(p, DROP);
  exit_with(p, SK_DROP);
}

int load_verdict_program(int pairs_map, int targets_map, int diversions_ring, char *log, size_t log_size) {
  /* Each environment (worker thread) assembles its own. */
  static _Thread_local program_t program;
  memset(&program, 0, sizeof(program));
  build(&program, pairs_map, targets_map, diversions_ring);
  if (program.count >= MAX_INSNS) {
    if (log_size > 0) snprintf(log, log_size, "the program outgrew its instruction table");
    errno = E2BIG;
    return -1;
  }
  for (int i = 0; i < program.count; i++) {
    if (program.jump_to[i] >= 0) program.insn[i].off = (int16_t)(program.at[program.jump_to[i]] - i - 1);
  }
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.prog_type = BPF_PROG_TYPE_SK_SKB;
  attr.insns = (uint64_t)(uintptr_t)program.insn;
  attr.insn_cnt = (uint32_t)program.count;
  attr.license = (uint64_t)(uintptr_t) "Dual MIT/GPL";
  int fd = (int)syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
  if (fd >= 0 || log_size == 0) return fd;
  /* Refused: once more with the verifier's log, whose end says why. (A log
   * too small for a program's whole trace fails the load, so it is not asked
   * for the first time.) */
  int error = errno;
  attr.log_buf = (uint64_t)(uintptr_t)log;
  attr.log_size = (uint32_t)log_size;
  attr.log_level = 1;
  fd = (int)syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
  if (fd < 0) errno = error;
  return fd;
}
