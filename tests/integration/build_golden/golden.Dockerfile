FROM busybox
ENV APP_HOME=/app PATH=/app/bin:$PATH
ARG VERSION=1.0
LABEL org.example.version=$VERSION maintainer="dock yard"
WORKDIR $APP_HOME
COPY hello.txt ./
RUN echo "built $VERSION" > built.txt
USER nobody
EXPOSE 8080/tcp 53/udp
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=3s --retries=2 CMD wget -q -O- http://localhost:8080/ || exit 1
STOPSIGNAL SIGTERM
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo hello"]
ONBUILD RUN echo child
