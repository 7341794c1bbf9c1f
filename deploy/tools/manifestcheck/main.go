// Command manifestcheck validates the output of `helm template` for the dataflow chart without a
// cluster: every object is decoded strictly into its Kubernetes API type (unknown or mistyped
// fields are errors), references between objects are resolved, and the chart's operational
// rules are asserted (probes, resources, non-root, replica and autoscaling rules, PDBs, the
// rules ConfigMap mount, tracing variables).
//
//	helm template ... | manifestcheck -servicemonitor=false -rules=false -tracing=false
//
// It prints one line per problem and exits 1 when there is any.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

var apps = []string{"generator", "filter", "db-writer", "mongo-writer"}

type manifests struct {
	deployments     map[string]*appsv1.Deployment // by app (component label)
	configMaps      map[string]*corev1.ConfigMap  // by name
	secrets         map[string]*corev1.Secret
	services        []*corev1.Service
	pvcs            map[string]*corev1.PersistentVolumeClaim
	pdbs            []*policyv1.PodDisruptionBudget
	hpas            []*autoscalingv2.HorizontalPodAutoscaler
	serviceMonitors []map[string]any
}

type checker struct{ problems []string }

func (c *checker) errorf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func main() {
	expectMonitor := flag.Bool("servicemonitor", false, "a ServiceMonitor must be rendered (otherwise none may be)")
	expectRules := flag.Bool("rules", false, "the filter must mount a rules ConfigMap (otherwise none may exist)")
	expectTracing := flag.Bool("tracing", false, "every app must get OTEL_* variables (otherwise none may)")
	existingSecret := flag.String("existing-secret", "", "name of a Secret managed outside the chart")
	rulesOut := flag.String("rules-out", "", "write the rendered rules.json to this file (with -rules)")
	flag.Parse()

	c := &checker{}
	m := c.parse(os.Stdin)
	c.checkDeployments(m, *existingSecret)
	c.checkScaling(m)
	c.checkServices(m)
	c.checkServiceMonitor(m, *expectMonitor)
	if rules := c.checkRules(m, *expectRules); rules != "" && *rulesOut != "" {
		if err := os.WriteFile(*rulesOut, []byte(rules), 0o644); err != nil {
			c.errorf("writing %s: %v", *rulesOut, err)
		}
	}
	c.checkTracing(m, *expectTracing)

	for _, p := range c.problems {
		fmt.Println("manifestcheck:", p)
	}
	if len(c.problems) > 0 {
		os.Exit(1)
	}
}

// splitDocuments cuts a multi-document YAML stream at its "---" lines.
func splitDocuments(r io.Reader) ([][]byte, error) {
	var docs [][]byte
	var cur bytes.Buffer
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 1<<20), 16<<20)
	flush := func() {
		if len(bytes.TrimSpace(cur.Bytes())) > 0 {
			docs = append(docs, append([]byte(nil), cur.Bytes()...))
		}
		cur.Reset()
	}
	for scanner.Scan() {
		line := scanner.Text()
		if line == "---" || strings.HasPrefix(line, "--- ") {
			flush()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	flush()
	return docs, scanner.Err()
}

// strict decodes one document into out, refusing unknown and mistyped fields.
func (c *checker) strict(doc []byte, kind, name string, out any) bool {
	if err := yaml.UnmarshalStrict(doc, out); err != nil {
		c.errorf("%s %s does not match the Kubernetes API type: %v", kind, name, err)
		return false
	}
	return true
}

// decode decodes doc strictly into a new T and hands it to keep when it matches the API type.
func decode[T any](c *checker, doc []byte, kind, name string, keep func(*T)) {
	var v T
	if c.strict(doc, kind, name, &v) {
		keep(&v)
	}
}

func (c *checker) parse(r io.Reader) *manifests {
	m := &manifests{
		deployments: map[string]*appsv1.Deployment{},
		configMaps:  map[string]*corev1.ConfigMap{},
		secrets:     map[string]*corev1.Secret{},
		pvcs:        map[string]*corev1.PersistentVolumeClaim{},
	}
	docs, err := splitDocuments(r)
	if err != nil {
		c.errorf("reading input: %v", err)
		return m
	}
	if len(docs) == 0 {
		c.errorf("no manifests on stdin")
	}
	for _, doc := range docs {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name   string            `json:"name"`
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			c.errorf("a document is not valid YAML: %v", err)
			continue
		}
		if head.Kind == "" {
			continue // comment-only document
		}
		name := head.Metadata.Name
		for _, msg := range validation.IsDNS1123Subdomain(name) {
			c.errorf("%s %q: invalid name: %s", head.Kind, name, msg)
		}
		for key, value := range head.Metadata.Labels {
			for _, msg := range validation.IsQualifiedName(key) {
				c.errorf("%s %s: label key %q: %s", head.Kind, name, key, msg)
			}
			for _, msg := range validation.IsValidLabelValue(value) {
				c.errorf("%s %s: label %s=%q: %s", head.Kind, name, key, value, msg)
			}
		}
		want := map[string]string{
			"Deployment": "apps/v1", "ConfigMap": "v1", "Secret": "v1", "Service": "v1",
			"PersistentVolumeClaim": "v1", "ServiceAccount": "v1", "PodDisruptionBudget": "policy/v1",
			"HorizontalPodAutoscaler": "autoscaling/v2", "ServiceMonitor": "monitoring.coreos.com/v1",
		}
		if api, ok := want[head.Kind]; !ok {
			c.errorf("unexpected kind %s (%s)", head.Kind, name)
			continue
		} else if api != head.APIVersion {
			c.errorf("%s %s: apiVersion %s, expected %s", head.Kind, name, head.APIVersion, api)
		}
		switch head.Kind {
		case "Deployment":
			decode(c, doc, head.Kind, name, func(d *appsv1.Deployment) {
				app := d.Labels["app.kubernetes.io/component"]
				if _, dup := m.deployments[app]; dup {
					c.errorf("two Deployments for app %q", app)
				}
				m.deployments[app] = d
			})
		case "ConfigMap":
			decode(c, doc, head.Kind, name, func(cm *corev1.ConfigMap) { m.configMaps[name] = cm })
		case "Secret":
			decode(c, doc, head.Kind, name, func(s *corev1.Secret) { m.secrets[name] = s })
		case "Service":
			decode(c, doc, head.Kind, name, func(s *corev1.Service) { m.services = append(m.services, s) })
		case "PersistentVolumeClaim":
			decode(c, doc, head.Kind, name, func(p *corev1.PersistentVolumeClaim) { m.pvcs[name] = p })
		case "ServiceAccount":
			decode(c, doc, head.Kind, name, func(*corev1.ServiceAccount) {})
		case "PodDisruptionBudget":
			decode(c, doc, head.Kind, name, func(p *policyv1.PodDisruptionBudget) { m.pdbs = append(m.pdbs, p) })
		case "HorizontalPodAutoscaler":
			decode(c, doc, head.Kind, name, func(h *autoscalingv2.HorizontalPodAutoscaler) { m.hpas = append(m.hpas, h) })
		case "ServiceMonitor":
			var sm map[string]any
			if err := yaml.Unmarshal(doc, &sm); err == nil {
				m.serviceMonitors = append(m.serviceMonitors, sm)
			}
		}
	}
	return m
}

// env returns the variables a container gets from its ConfigMaps and its own env entries.
func (m *manifests) env(c *corev1.Container) map[string]string {
	out := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef != nil {
			if cm := m.configMaps[from.ConfigMapRef.Name]; cm != nil {
				for k, v := range cm.Data {
					out[k] = v
				}
			}
		}
	}
	for _, e := range c.Env {
		out[e.Name] = e.Value
	}
	return out
}

func (c *checker) checkDeployments(m *manifests, existingSecret string) {
	for _, app := range apps {
		if m.deployments[app] == nil {
			c.errorf("no Deployment for app %s", app)
		}
	}
	for app, d := range m.deployments {
		where := "Deployment " + d.Name
		spec := d.Spec.Template.Spec
		selector, err := labels.ValidatedSelectorFromSet(d.Spec.Selector.MatchLabels)
		if err != nil || d.Spec.Selector.MatchLabels == nil {
			c.errorf("%s: invalid selector", where)
		} else if !selector.Matches(labels.Set(d.Spec.Template.Labels)) {
			c.errorf("%s: selector does not match its pod template's labels", where)
		}
		psc := spec.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
			c.errorf("%s: pod must set runAsNonRoot: true and a non-zero runAsUser", where)
		}
		if len(spec.Containers) != 1 {
			c.errorf("%s: expected one container, found %d", where, len(spec.Containers))
			continue
		}
		ctr := &spec.Containers[0]
		ports := map[string]bool{}
		for _, p := range ctr.Ports {
			ports[p.Name] = true
		}
		probe := func(kind string, p *corev1.Probe, wantPath string) {
			switch {
			case p == nil:
				c.errorf("%s: no %s probe", where, kind)
			case p.HTTPGet == nil:
				c.errorf("%s: %s probe is not an HTTP GET", where, kind)
			case p.HTTPGet.Path != wantPath:
				c.errorf("%s: %s probe path %s, expected %s", where, kind, p.HTTPGet.Path, wantPath)
			case p.HTTPGet.Port.StrVal != "" && !ports[p.HTTPGet.Port.StrVal]:
				c.errorf("%s: %s probe port %q is not a container port", where, kind, p.HTTPGet.Port.StrVal)
			}
		}
		probe("liveness", ctr.LivenessProbe, "/health/live")
		probe("readiness", ctr.ReadinessProbe, "/health/ready")
		probe("startup", ctr.StartupProbe, "/health/live")

		res := ctr.Resources
		if res.Requests.Cpu().IsZero() || res.Requests.Memory().IsZero() {
			c.errorf("%s: CPU and memory requests are required", where)
		}
		if res.Limits.Memory().IsZero() {
			c.errorf("%s: a memory limit is required", where)
		}
		csc := ctr.SecurityContext
		if csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
			csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
			c.errorf("%s: container must disallow privilege escalation and use a read-only root filesystem", where)
		}
		if csc != nil && csc.RunAsUser != nil && *csc.RunAsUser == 0 {
			c.errorf("%s: container runs as root", where)
		}

		env := m.env(ctr)
		for _, from := range ctr.EnvFrom {
			if from.ConfigMapRef != nil && m.configMaps[from.ConfigMapRef.Name] == nil {
				c.errorf("%s: envFrom ConfigMap %s is not rendered", where, from.ConfigMapRef.Name)
			}
		}
		for _, e := range ctr.Env {
			if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
				name := ref.SecretKeyRef.Name
				if name == existingSecret && existingSecret != "" {
					continue
				}
				s := m.secrets[name]
				if s == nil {
					c.errorf("%s: env %s refers to Secret %s, which is not rendered", where, e.Name, name)
				} else if _, ok := s.StringData[ref.SecretKeyRef.Key]; !ok {
					c.errorf("%s: env %s refers to key %s missing from Secret %s", where, e.Name, ref.SecretKeyRef.Key, name)
				}
			}
		}
		if env["OTEL_SERVICE_NAME"] != "" && env["OTEL_SERVICE_NAME"] != app {
			c.errorf("%s: OTEL_SERVICE_NAME is %q, expected %q", where, env["OTEL_SERVICE_NAME"], app)
		}
		if shutdown, err := strconv.Atoi(env["SHUTDOWN_TIMEOUT_SECONDS"]); err == nil {
			if spec.TerminationGracePeriodSeconds == nil || *spec.TerminationGracePeriodSeconds <= int64(shutdown) {
				c.errorf("%s: terminationGracePeriodSeconds must exceed SHUTDOWN_TIMEOUT_SECONDS (%d)", where, shutdown)
			}
		}

		volumes := map[string]corev1.Volume{}
		for _, v := range spec.Volumes {
			volumes[v.Name] = v
			if v.ConfigMap != nil && m.configMaps[v.ConfigMap.Name] == nil {
				c.errorf("%s: volume %s uses ConfigMap %s, which is not rendered", where, v.Name, v.ConfigMap.Name)
			}
			if v.PersistentVolumeClaim != nil && m.pvcs[v.PersistentVolumeClaim.ClaimName] == nil {
				c.errorf("%s: volume %s uses PVC %s, which is not rendered", where, v.Name, v.PersistentVolumeClaim.ClaimName)
			}
		}
		for _, vm := range ctr.VolumeMounts {
			if _, ok := volumes[vm.Name]; !ok {
				c.errorf("%s: volume mount %s has no volume", where, vm.Name)
			}
		}
	}
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

func (c *checker) checkScaling(m *manifests) {
	hpaFor := map[string]*autoscalingv2.HorizontalPodAutoscaler{}
	for _, h := range m.hpas {
		ref := h.Spec.ScaleTargetRef
		found := false
		for app, d := range m.deployments {
			if ref.Kind == "Deployment" && ref.Name == d.Name {
				hpaFor[app], found = h, true
			}
		}
		if !found {
			c.errorf("HorizontalPodAutoscaler %s targets %s %s, which is not rendered", h.Name, ref.Kind, ref.Name)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
			c.errorf("HorizontalPodAutoscaler %s: minReplicas must be >= 1 and <= maxReplicas", h.Name)
		}
	}
	for _, app := range []string{"generator", "filter"} {
		if d := m.deployments[app]; d != nil {
			if replicas(d) != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
				c.errorf("Deployment %s: must run 1 replica with strategy Recreate", d.Name)
			}
			if hpaFor[app] != nil {
				c.errorf("%s must not be autoscaled", app)
			}
		}
	}
	if d := m.deployments["mongo-writer"]; d != nil {
		if replicas(d) != 2 {
			c.errorf("Deployment %s: expected 2 replicas (single active consumer plus hot standby), found %d", d.Name, replicas(d))
		}
		if hpaFor["mongo-writer"] != nil {
			c.errorf("mongo-writer must not be autoscaled (single active consumer)")
		}
	}
	if d := m.deployments["db-writer"]; d != nil {
		if hpaFor["db-writer"] == nil {
			c.errorf("db-writer has no HorizontalPodAutoscaler")
		} else if d.Spec.Replicas != nil {
			c.errorf("Deployment %s sets replicas although an HPA scales it (every upgrade would reset the count)", d.Name)
		}
	}
	for app, d := range m.deployments {
		covered := 0
		for _, p := range m.pdbs {
			sel, err := labels.ValidatedSelectorFromSet(p.Spec.Selector.MatchLabels)
			if err == nil && p.Spec.Selector.MatchLabels != nil && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				covered++
			}
			if p.Spec.MinAvailable != nil && p.Spec.MaxUnavailable != nil {
				c.errorf("PodDisruptionBudget %s sets both minAvailable and maxUnavailable", p.Name)
			}
		}
		if covered != 1 {
			c.errorf("app %s: expected one PodDisruptionBudget selecting its pods, found %d", app, covered)
		}
	}
}

func (c *checker) checkServices(m *manifests) {
	for app, d := range m.deployments {
		n := 0
		for _, s := range m.services {
			if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
				n++
				for _, p := range s.Spec.Ports {
					found := false
					for _, cp := range d.Spec.Template.Spec.Containers[0].Ports {
						found = found || (p.TargetPort.StrVal != "" && cp.Name == p.TargetPort.StrVal) ||
							(p.TargetPort.StrVal == "" && cp.ContainerPort == p.TargetPort.IntVal)
					}
					if !found {
						c.errorf("Service %s: targetPort %s is not a port of %s", s.Name, p.TargetPort.String(), d.Name)
					}
				}
			}
		}
		if n != 1 {
			c.errorf("app %s: expected one Service selecting its pods, found %d", app, n)
		}
	}
}

func (c *checker) checkServiceMonitor(m *manifests, expected bool) {
	switch {
	case expected && len(m.serviceMonitors) != 1:
		c.errorf("expected one ServiceMonitor, found %d", len(m.serviceMonitors))
	case !expected && len(m.serviceMonitors) != 0:
		c.errorf("a ServiceMonitor is rendered although serviceMonitor.enabled is false")
	}
	for _, sm := range m.serviceMonitors {
		spec, _ := sm["spec"].(map[string]any)
		endpoints, _ := spec["endpoints"].([]any)
		if len(endpoints) == 0 {
			c.errorf("ServiceMonitor has no endpoints")
		}
		for _, e := range endpoints {
			ep, _ := e.(map[string]any)
			if ep["port"] != "http" || ep["path"] != "/metrics" {
				c.errorf("ServiceMonitor endpoint must scrape port http, path /metrics: %v", ep)
			}
		}
		if spec["jobLabel"] != "app.kubernetes.io/component" {
			c.errorf("ServiceMonitor jobLabel must be app.kubernetes.io/component (the alerts use job=<app>)")
		}
	}
}

// checkRules returns the rendered rule set, if any.
func (c *checker) checkRules(m *manifests, expected bool) string {
	var rulesMaps []string
	for name, cm := range m.configMaps {
		if _, ok := cm.Data["rules.json"]; ok {
			rulesMaps = append(rulesMaps, name)
		}
	}
	sort.Strings(rulesMaps)
	rendered := ""
	if len(rulesMaps) == 1 {
		rendered = m.configMaps[rulesMaps[0]].Data["rules.json"]
	}
	for app, d := range m.deployments {
		file, set := m.env(&d.Spec.Template.Spec.Containers[0])["FILTER_RULES_FILE"]
		if app != "filter" {
			if set {
				c.errorf("Deployment %s gets FILTER_RULES_FILE", d.Name)
			}
			continue
		}
		if !expected {
			if set || len(rulesMaps) > 0 {
				c.errorf("no rule set configured, yet FILTER_RULES_FILE (%q) or a rules ConfigMap %v is rendered", file, rulesMaps)
			}
			continue
		}
		if !set || len(rulesMaps) != 1 {
			c.errorf("filter: expected FILTER_RULES_FILE and one rules ConfigMap, found %q and %v", file, rulesMaps)
			continue
		}
		var parsed struct {
			Rules []any `json:"rules"`
		}
		if err := json.Unmarshal([]byte(m.configMaps[rulesMaps[0]].Data["rules.json"]), &parsed); err != nil || parsed.Rules == nil {
			c.errorf("ConfigMap %s: rules.json is not a rule set: %v", rulesMaps[0], err)
		}
		spec := d.Spec.Template.Spec
		volume := ""
		for _, v := range spec.Volumes {
			if v.ConfigMap != nil && v.ConfigMap.Name == rulesMaps[0] {
				volume = v.Name
				if len(v.ConfigMap.Items) > 0 {
					c.errorf("filter: the rules volume must project the whole ConfigMap (no items)")
				}
			}
		}
		if volume == "" {
			c.errorf("filter: ConfigMap %s is not a volume of %s", rulesMaps[0], d.Name)
			continue
		}
		mounted := false
		for _, vm := range spec.Containers[0].VolumeMounts {
			if vm.Name != volume {
				continue
			}
			mounted = true
			if vm.SubPath != "" || vm.SubPathExpr != "" {
				c.errorf("filter: the rules volume is mounted with subPath, so ConfigMap updates never reach the filter")
			}
			if !vm.ReadOnly {
				c.errorf("filter: the rules volume must be mounted read-only")
			}
			if path.Dir(file) != path.Clean(vm.MountPath) || path.Base(file) != "rules.json" {
				c.errorf("filter: FILTER_RULES_FILE %s is not rules.json in the mount %s", file, vm.MountPath)
			}
		}
		if !mounted {
			c.errorf("filter: the rules volume is not mounted")
		}
	}
	return rendered
}

func (c *checker) checkTracing(m *manifests, expected bool) {
	for app, d := range m.deployments {
		env := m.env(&d.Spec.Template.Spec.Containers[0])
		var otel []string
		for k := range env {
			if strings.HasPrefix(k, "OTEL_") {
				otel = append(otel, k)
			}
		}
		sort.Strings(otel)
		if !expected {
			if len(otel) > 0 {
				c.errorf("%s: tracing is off, yet %v are set", app, otel)
			}
			continue
		}
		endpoint := env["OTEL_EXPORTER_OTLP_ENDPOINT"]
		if !strings.HasPrefix(endpoint, "http://") && !strings.HasPrefix(endpoint, "https://") {
			c.errorf("%s: OTEL_EXPORTER_OTLP_ENDPOINT %q is not an http(s) URL", app, endpoint)
		}
		if env["OTEL_SERVICE_NAME"] != app {
			c.errorf("%s: OTEL_SERVICE_NAME is %q", app, env["OTEL_SERVICE_NAME"])
		}
		if env["OTEL_TRACES_SAMPLER"] == "" {
			c.errorf("%s: OTEL_TRACES_SAMPLER is not set", app)
		}
	}
}
