// Command composecheck loads docker-compose.yml with compose-go, the library behind
// `docker compose config`, so the file is validated against the Compose specification and
// interpolated exactly as Docker Compose would, with no Docker engine. Neither the shell
// environment nor a .env file is read, so the result does not depend on the machine. It asserts
// that the file refuses to load without each secret (none has a default), then loads it with
// placeholder secrets and asserts what the stack relies on: healthchecks, drain time, tokens,
// ports published on 127.0.0.1 only, tracing and existing bind-mount sources.
//
//	composecheck [docker-compose.yml]
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

var appPorts = map[string]uint32{"generator": 3001, "filter": 3002, "db-writer": 3003, "mongo-writer": 3004}

// The secrets the stack needs; each must come from the environment, never from a default.
var secrets = []string{"INGEST_TOKEN", "FILTER_ADMIN_TOKEN", "RABBITMQ_PASSWORD", "POSTGRES_PASSWORD",
	"MONGODB_PASSWORD", "GRAFANA_ADMIN_PASSWORD"}

// A `${NAME:-default}` or `${NAME-default}` for a variable whose name says it is a secret.
var secretDefault = regexp.MustCompile(`\$\{[A-Z0-9_]*(TOKEN|PASSWORD|SECRET)[A-Z0-9_]*:?-`)

func load(abs string, env map[string]string) (*types.Project, error) {
	opts, err := cli.NewProjectOptions([]string{abs},
		cli.WithWorkingDirectory(filepath.Dir(abs)),
		cli.WithName("dataflow"),
		cli.WithEnv(nil),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		return nil, err
	}
	for key, value := range env {
		opts.Environment[key] = value
	}
	return opts.LoadProject(context.Background())
}

func main() {
	file := "docker-compose.yml"
	if len(os.Args) > 1 {
		file = os.Args[1]
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		fail(err)
	}
	var problems []string
	errorf := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	raw, err := os.ReadFile(abs)
	if err != nil {
		fail(err)
	}
	if m := secretDefault.FindString(string(raw)); m != "" {
		errorf("a secret has a default value (%s...): require it with ${NAME:?message}", m)
	}
	placeholders := map[string]string{}
	for _, key := range secrets {
		placeholders[key] = "placeholder-" + strings.ToLower(key)
	}
	for _, key := range secrets {
		without := map[string]string{}
		for k, v := range placeholders {
			if k != key {
				without[k] = v
			}
		}
		if _, err := load(abs, without); err == nil || !strings.Contains(err.Error(), key) {
			errorf("the file loads without %s; it must be required (${%s:?...})", key, key)
		}
	}
	project, err := load(abs, placeholders)
	if err != nil {
		fail(err)
	}
	for name, s := range project.Services {
		for _, p := range s.Ports {
			if p.Published != "" && p.HostIP != "127.0.0.1" {
				errorf("%s: port %s is published on %q; publish it on 127.0.0.1 only", name, p.Published, p.HostIP)
			}
		}
	}
	env := func(s types.ServiceConfig, key string) string {
		if v := s.Environment[key]; v != nil {
			return *v
		}
		return ""
	}

	for _, name := range []string{"rabbitmq", "postgres", "mongodb", "generator", "filter", "db-writer",
		"mongo-writer", "prometheus", "grafana", "jaeger"} {
		if _, ok := project.Services[name]; !ok {
			errorf("service %s is missing", name)
		}
	}
	for name, s := range project.Services {
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				if _, err := os.Stat(v.Source); err != nil {
					errorf("%s: bind mount source %s does not exist", name, v.Source)
				}
			}
		}
		port, isApp := appPorts[name]
		if !isApp {
			continue
		}
		if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 || s.HealthCheck.Disable {
			errorf("%s: no healthcheck", name)
		}
		if s.Init == nil || !*s.Init {
			errorf("%s: init must be true so SIGTERM reaches node", name)
		}
		if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) <= 20*time.Second {
			errorf("%s: stop_grace_period must exceed SHUTDOWN_TIMEOUT_SECONDS (20 s)", name)
		}
		published := false
		for _, p := range s.Ports {
			published = published || p.Target == port
		}
		if !published {
			errorf("%s: port %d is not published", name, port)
		}
		if env(s, "OTEL_EXPORTER_OTLP_ENDPOINT") != "http://jaeger:4318" {
			errorf("%s: OTEL_EXPORTER_OTLP_ENDPOINT is %q, expected the jaeger service", name, env(s, "OTEL_EXPORTER_OTLP_ENDPOINT"))
		}
		if env(s, "OTEL_SERVICE_NAME") != name {
			errorf("%s: OTEL_SERVICE_NAME is %q", name, env(s, "OTEL_SERVICE_NAME"))
		}
	}
	filter, generator := project.Services["filter"], project.Services["generator"]
	if env(filter, "NODE_ENV") == "production" {
		for _, key := range []string{"INGEST_TOKEN", "FILTER_ADMIN_TOKEN"} {
			if env(filter, key) == "" {
				errorf("filter: %s is empty, but NODE_ENV=production requires it", key)
			}
		}
	}
	if env(filter, "INGEST_TOKEN") != placeholders["INGEST_TOKEN"] || env(generator, "INGEST_TOKEN") != placeholders["INGEST_TOKEN"] {
		errorf("generator and filter must both take INGEST_TOKEN from the environment")
	}
	if jaeger, ok := project.Services["jaeger"]; ok {
		targets := map[uint32]bool{}
		for _, p := range jaeger.Ports {
			targets[p.Target] = true
		}
		if !targets[4318] || !targets[16686] {
			errorf("jaeger: ports 4318 (OTLP/HTTP) and 16686 (UI) must be published")
		}
	}

	for _, p := range problems {
		fmt.Println("composecheck:", p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
	fmt.Printf("composecheck: %s valid, %d services\n", file, len(project.Services))
}

func fail(err error) {
	fmt.Println("composecheck:", err)
	os.Exit(1)
}
