#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
static unsigned be32(const unsigned char *p) { return (unsigned)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static int readn(int fd, unsigned char *b, size_t n) { size_t g = 0; while (g < n) { ssize_t r = read(fd, b + g, n - g); if (r <= 0) return -1; g += r; } return 0; }
int main(void) {
    const char *path = getenv("SSH_AUTH_SOCK");
    if (!path) { fprintf(stderr, "no SSH_AUTH_SOCK\n"); return 2; }
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a; memset(&a, 0, sizeof a); a.sun_family = AF_UNIX;
    strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); return 3; }
    unsigned char req[5] = {0, 0, 0, 1, 11};
    if (write(fd, req, 5) != 5) { perror("write"); return 4; }
    unsigned char hdr[4]; if (readn(fd, hdr, 4)) return 5;
    unsigned len = be32(hdr); unsigned char *b = malloc(len); if (readn(fd, b, len)) return 6;
    if (b[0] != 12) { fprintf(stderr, "answer type %d\n", b[0]); return 7; }
    unsigned n = be32(b + 1), off = 5;
    printf("keys=%u\n", n);
    for (unsigned i = 0; i < n; i++) {
        unsigned bl = be32(b + off); off += 4 + bl;
        unsigned cl = be32(b + off); off += 4;
        printf("%.*s\n", (int)cl, b + off); off += cl;
    }
    return 0;
}
