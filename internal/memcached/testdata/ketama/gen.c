/*
 * gen.c prints the server libmemcached places each of 10,000 keys on, for
 * several server lists, in ketama-weighted mode (MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED,
 * which is what PHP's Memcached::OPT_LIBKETAMA_COMPATIBLE and pylibmc's
 * "ketama_weighted" set). ketama_test.go checks package memcached's continuum
 * against its output, vectors.txt.
 *
 * vectors.txt was made once, on Debian bookworm with libmemcached-dev 1.1.4-1:
 *
 *	apt-get install libmemcached-dev
 *	gcc -O2 -o /tmp/ketama-gen gen.c $(pkg-config --cflags --libs libmemcached)
 *	/tmp/ketama-gen > vectors.txt
 *
 * memcached_server_by_key only computes the placement: no server is asked.
 * Format, per server list: a line "nodes ADDR=WEIGHT ..." in the order the
 * servers were added, then a line "placed X..." with, for key "key-I"
 * (I = 0..9999), the position of its server in that list (0-9, a-z).
 */
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct server {
  const char *host; /* a name, an IP address, or a Unix socket path */
  in_port_t port;   /* 0 for a socket */
  uint32_t weight;
};

#define MAX_SERVERS 8
static const struct server lists[][MAX_SERVERS] = {
    /* loopback on ports other than memcached's default */
    {{"127.0.0.1", 11212, 1}, {"127.0.0.1", 11213, 1}, {"127.0.0.1", 11214, 1}},
    /* the same and a fourth */
    {{"127.0.0.1", 11212, 1}, {"127.0.0.1", 11213, 1}, {"127.0.0.1", 11214, 1}, {"127.0.0.1", 11215, 1}},
    /* names on the default port, which libmemcached leaves out of the point names */
    {{"mc-a.internal", 11211, 1}, {"mc-b.internal", 11211, 1}, {"mc-c.internal", 11211, 1}},
    /* weights, a mix of default and other ports */
    {{"10.0.0.1", 11211, 1}, {"10.0.0.2", 11211, 2}, {"10.0.0.3", 11300, 3}, {"10.0.0.4", 11211, 5}},
    /* seven servers, weights 1..7: the points per server go through float rounding */
    {{"10.1.0.1", 11211, 1}, {"10.1.0.2", 11211, 2}, {"10.1.0.3", 11211, 3}, {"10.1.0.4", 11211, 4},
     {"10.1.0.5", 11211, 5}, {"10.1.0.6", 11211, 6}, {"10.1.0.7", 11211, 7}},
    /* IPv6 */
    {{"::1", 11212, 1}, {"::1", 11213, 1}},
    /* Unix sockets */
    {{"/run/memcached/a.sock", 0, 1}, {"/run/memcached/b.sock", 0, 1}, {"/run/memcached/c.sock", 0, 2}},
    /* one server */
    {{"127.0.0.1", 11212, 1}},
    /* two servers with a point at the same position (3390125743), found by
     * search: equal positions sort by the servers' order, in both orders */
    {{"10.9.0.7", 11211, 1}, {"10.9.1.106", 11211, 1}},
    {{"10.9.1.106", 11211, 1}, {"10.9.0.7", 11211, 1}},
};

static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";

int main(void) {
  for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
    memcached_st *m = memcached_create(NULL);
    if (memcached_behavior_set(m, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1) != MEMCACHED_SUCCESS) {
      fprintf(stderr, "ketama_weighted: %s\n", memcached_last_error_message(m));
      return 1;
    }
    printf("nodes");
    for (int s = 0; s < MAX_SERVERS && lists[l][s].host; s++) {
      const struct server *sv = &lists[l][s];
      memcached_return_t rc;
      if (sv->port == 0) {
        rc = memcached_server_add_unix_socket_with_weight(m, sv->host, sv->weight);
        printf(" %s=%u", sv->host, sv->weight);
      } else {
        rc = memcached_server_add_with_weight(m, sv->host, sv->port, sv->weight);
        printf(strchr(sv->host, ':') ? " [%s]:%u=%u" : " %s:%u=%u", sv->host, sv->port, sv->weight);
      }
      if (rc != MEMCACHED_SUCCESS) {
        fprintf(stderr, "adding %s: %s\n", sv->host, memcached_strerror(m, rc));
        return 1;
      }
    }
    printf("\nplaced ");
    for (int i = 0; i < 10000; i++) {
      char key[32];
      int n = snprintf(key, sizeof key, "key-%d", i);
      memcached_return_t rc;
      const memcached_instance_st *got = memcached_server_by_key(m, key, (size_t) n, &rc);
      if (got == NULL) {
        fprintf(stderr, "%s: %s\n", key, memcached_strerror(m, rc));
        return 1;
      }
      int pos = -1;
      for (int s = 0; s < MAX_SERVERS && lists[l][s].host; s++) {
        if (strcmp(memcached_server_name(got), lists[l][s].host) == 0
            && memcached_server_port(got) == lists[l][s].port) {
          pos = s;
        }
      }
      if (pos < 0) {
        fprintf(stderr, "%s: unknown server %s\n", key, memcached_server_name(got));
        return 1;
      }
      putchar(digits[pos]);
    }
    putchar('\n');
    memcached_free(m);
  }
  return 0;
}
