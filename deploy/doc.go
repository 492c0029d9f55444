// Package deploy holds Sesame's deployment files (the systemd unit here,
// the Dockerfile at the repository root) and the test that proves them:
// the Dockerfile's static binary starts in an empty root as the image's
// unprivileged user and answers /readyz, and the unit passes
// `systemd-analyze verify`.
package deploy
