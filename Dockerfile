# The shardsim image: every process of a cluster (beacon, validators, driver) is the
# one `shardsim` binary. `shardsim deploy kubernetes` writes manifests that run it.
#
#   docker build -t shardsim:latest .
#
# Stage 1 builds with the Rust toolchain alone (protox compiles the protocol, ring
# needs only a C compiler); stage 2 is a slim runtime with the binary on the PATH.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p sim-driver \
 && cp target/release/shardsim /usr/local/bin/shardsim

FROM debian:bookworm-slim
COPY --from=build /usr/local/bin/shardsim /usr/local/bin/shardsim
# Ports: every process listens on 7000 in the manifests.
EXPOSE 7000
ENTRYPOINT []
CMD ["shardsim", "--help"]
