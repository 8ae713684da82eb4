# Dockerfile - distcron in a container (README, Containers): the Debian
# package built from this tree on Debian 12, installed in a clean Debian 12,
# the daemon run in the foreground as the distcron user.  Settings come from
# /etc/distcron/distcrond.conf and DISTCRON_<KEY> variables (docker run -e);
# /etc/distcron (config, jobs, nodes) and /var/lib/distcron (the run store,
# the API token) are volumes.  tests/integration/debpkg.sh runs the same
# build command and starts the daemon with the same entry point and user.
#
#   docker build -t distcron .
#   docker run -d -p 8080:8080 -v distcron-etc:/etc/distcron \
#       -v distcron-state:/var/lib/distcron distcron

# Stage 1: the package, built as in README's "Debian package", with the
# build dependencies debian/control names (the unit tests run in the
# suite, not here: nocheck).
FROM debian:12 AS build
ENV DEBIAN_FRONTEND=noninteractive
ENV DEB_BUILD_OPTIONS=nocheck DEB_BUILD_PROFILES=nocheck
WORKDIR /src/distcron
COPY . .
RUN apt-get update && apt-get build-dep -y --no-install-recommends ./ \
    && rm -rf /var/lib/apt/lists/*
RUN dpkg-buildpackage -us -uc -b

# Stage 2: the package alone.  Its postinst makes the distcron user and
# /var/lib/distcron (0700, the user's); the example jobs stay disabled.
FROM debian:12
ENV DEBIAN_FRONTEND=noninteractive
COPY --from=build /src/distcron_*.deb /tmp/
RUN apt-get update && apt-get install -y --no-install-recommends \
        /tmp/distcron_*.deb \
    && rm -rf /var/lib/apt/lists/* /tmp/distcron_*.deb
# The API on every address of the container (the package's config says
# 127.0.0.1); its token is /var/lib/distcron/api.token, made at first start.
ENV DISTCRON_LISTEN=0.0.0.0:8080
EXPOSE 8080
VOLUME ["/etc/distcron", "/var/lib/distcron"]
USER distcron
ENTRYPOINT ["/usr/sbin/distcrond", "--config", "/etc/distcron/distcrond.conf"]
