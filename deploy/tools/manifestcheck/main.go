// Command manifestcheck validates the output of `helm template` for the dataflow chart without a
// cluster: every object is decoded strictly into its Kubernetes API type (unknown or mistyped
// fields are errors), references between objects are resolved, and the chart's operational
// rules are asserted (probes, resources, non-root, workload kinds and replica rules, the
// scale-out variables, the filter's strategy and shared output volume, PDBs and anti-affinity, the
// rules ConfigMap mount, tracing variables).
//
//	helm template ... | manifestcheck -partitions 8 -replicas generator=4,filter=3,db-writer=3 -rules=false
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
	"regexp"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

var apps = []string{"generator", "filter", "db-writer", "mongo-writer"}

// The workload kind of each app: the generator and the writers need stable pod names and ordinals.
var kindOf = map[string]string{
	"generator": "StatefulSet", "filter": "Deployment", "db-writer": "StatefulSet", "mongo-writer": "StatefulSet",
}

// The apps that touch RabbitMQ and so must agree on RECORD_PARTITIONS.
var brokerApps = []string{"filter", "db-writer", "mongo-writer"}

// The writers' variable prefixes (<PREFIX>_ORDINAL, <PREFIX>_REPLICAS).
var writerPrefix = map[string]string{"db-writer": "DB_WRITER", "mongo-writer": "MONGO_WRITER"}

const (
	maxPartitions = 64
	// The schema's bound on the filter's replicas.
	maxFilterReplicas = 16
	// The downward-API path of a StatefulSet pod's ordinal (the label exists since Kubernetes 1.28).
	podIndexField = "metadata.labels['apps.kubernetes.io/pod-index']"
	// A StatefulSet's pods carry controller-revision-hash=<name>-<hash of 10 characters>, a label
	// value of at most 63 characters.
	maxStatefulSetName = 52
	hostnameKey        = "kubernetes.io/hostname"
)

// CONTRACT.md's source pattern, which a generator's pod name (its GENERATOR_ID) must match.
var sourcePattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// workload is an app's Deployment or StatefulSet, reduced to what the checks read.
type workload struct {
	kind, name, app string
	replicas        int32
	selector        *metav1.LabelSelector
	template        *corev1.PodTemplateSpec
	deployment      *appsv1.Deployment
	statefulSet     *appsv1.StatefulSet
}

func (w *workload) where() string         { return w.kind + " " + w.name }
func (w *workload) spec() *corev1.PodSpec { return &w.template.Spec }
func (w *workload) container() *corev1.Container {
	if len(w.template.Spec.Containers) == 0 {
		return &corev1.Container{}
	}
	return &w.template.Spec.Containers[0]
}

func replicasOf(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

type manifests struct {
	workloads       map[string]*workload         // by app (component label)
	configMaps      map[string]*corev1.ConfigMap // by name
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

// replicaFlag parses -replicas app=n,app=n.
type replicaFlag map[string]int32

func (f replicaFlag) String() string { return fmt.Sprint(map[string]int32(f)) }
func (f replicaFlag) Set(value string) error {
	for _, pair := range strings.Split(value, ",") {
		app, count, ok := strings.Cut(pair, "=")
		n, err := strconv.ParseInt(count, 10, 32)
		if !ok || err != nil || kindOf[app] == "" {
			return fmt.Errorf("expected app=count with app one of %v, got %q", apps, pair)
		}
		f[app] = int32(n)
	}
	return nil
}

func main() {
	expectReplicas := replicaFlag{}
	flag.Var(expectReplicas, "replicas", "expected replicas per app, e.g. generator=4,db-writer=3 (apps left out: any)")
	expectPartitions := flag.Int("partitions", 0, "expected RECORD_PARTITIONS of the broker apps (0: any value from 1 to 64, the same in all)")
	expectMonitor := flag.Bool("servicemonitor", false, "a ServiceMonitor must be rendered (otherwise none may be)")
	expectRules := flag.Bool("rules", false, "the filter must mount a rules ConfigMap (otherwise none may exist)")
	expectTracing := flag.Bool("tracing", false, "every app must get OTEL_* variables (otherwise none may)")
	existingSecret := flag.String("existing-secret", "", "name of a Secret managed outside the chart")
	rulesOut := flag.String("rules-out", "", "write the rendered rules.json to this file (with -rules)")
	flag.Parse()

	c := &checker{}
	m := c.parse(os.Stdin)
	c.checkWorkloads(m, *existingSecret)
	c.checkScaling(m, expectReplicas)
	c.checkPartitions(m, *expectPartitions)
	c.checkWriters(m)
	c.checkFilter(m)
	c.checkGenerator(m)
	c.checkDisruption(m)
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
		workloads:  map[string]*workload{},
		configMaps: map[string]*corev1.ConfigMap{},
		secrets:    map[string]*corev1.Secret{},
		pvcs:       map[string]*corev1.PersistentVolumeClaim{},
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
			"Deployment": "apps/v1", "StatefulSet": "apps/v1", "ConfigMap": "v1", "Secret": "v1", "Service": "v1",
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
				m.addWorkload(c, &workload{kind: head.Kind, name: name, app: d.Labels["app.kubernetes.io/component"],
					replicas: replicasOf(d.Spec.Replicas), selector: d.Spec.Selector, template: &d.Spec.Template, deployment: d})
			})
		case "StatefulSet":
			decode(c, doc, head.Kind, name, func(s *appsv1.StatefulSet) {
				m.addWorkload(c, &workload{kind: head.Kind, name: name, app: s.Labels["app.kubernetes.io/component"],
					replicas: replicasOf(s.Spec.Replicas), selector: s.Spec.Selector, template: &s.Spec.Template, statefulSet: s})
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

func (m *manifests) addWorkload(c *checker, w *workload) {
	if _, dup := m.workloads[w.app]; dup {
		c.errorf("two workloads for app %q", w.app)
	}
	m.workloads[w.app] = w
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

// envVar returns a container's own env entry of that name (nil when it has none).
func envVar(ctr *corev1.Container, name string) *corev1.EnvVar {
	for i := range ctr.Env {
		if ctr.Env[i].Name == name {
			return &ctr.Env[i]
		}
	}
	return nil
}

// fromConfigMap tells whether one of the container's envFrom ConfigMaps defines the variable.
func (m *manifests) fromConfigMap(ctr *corev1.Container, name string) bool {
	for _, from := range ctr.EnvFrom {
		if from.ConfigMapRef != nil {
			if cm := m.configMaps[from.ConfigMapRef.Name]; cm != nil {
				if _, ok := cm.Data[name]; ok {
					return true
				}
			}
		}
	}
	return false
}

// fieldRef returns the downward-API field path of a container's variable ("" when it has none).
func fieldRef(ctr *corev1.Container, name string) string {
	if e := envVar(ctr, name); e != nil && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
		return e.ValueFrom.FieldRef.FieldPath
	}
	return ""
}

func (c *checker) checkWorkloads(m *manifests, existingSecret string) {
	for _, app := range apps {
		if m.workloads[app] == nil {
			c.errorf("no %s for app %s", kindOf[app], app)
		}
	}
	for app, w := range m.workloads {
		where := w.where()
		spec := w.spec()
		if want := kindOf[app]; want != "" && w.kind != want {
			c.errorf("%s: app %s must be a %s", where, app, want)
		}
		selector, err := labels.ValidatedSelectorFromSet(w.selector.MatchLabels)
		if err != nil || w.selector.MatchLabels == nil || len(w.selector.MatchExpressions) > 0 {
			c.errorf("%s: invalid selector (matchLabels only)", where)
		} else if !selector.Matches(labels.Set(w.template.Labels)) {
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
		ctr := w.container()
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

		volumes := map[string]bool{}
		if w.statefulSet != nil {
			for _, t := range w.statefulSet.Spec.VolumeClaimTemplates {
				volumes[t.Name] = true
			}
		}
		for _, v := range spec.Volumes {
			if volumes[v.Name] {
				c.errorf("%s: volume %s is also a volumeClaimTemplate", where, v.Name)
			}
			volumes[v.Name] = true
			if v.ConfigMap != nil && m.configMaps[v.ConfigMap.Name] == nil {
				c.errorf("%s: volume %s uses ConfigMap %s, which is not rendered", where, v.Name, v.ConfigMap.Name)
			}
			if v.PersistentVolumeClaim != nil && m.pvcs[v.PersistentVolumeClaim.ClaimName] == nil {
				c.errorf("%s: volume %s uses PVC %s, which is not rendered", where, v.Name, v.PersistentVolumeClaim.ClaimName)
			}
		}
		for _, vm := range ctr.VolumeMounts {
			if !volumes[vm.Name] {
				c.errorf("%s: volume mount %s has no volume or volumeClaimTemplate", where, vm.Name)
			}
		}
	}
}

func (c *checker) checkScaling(m *manifests, expect replicaFlag) {
	for _, h := range m.hpas {
		// A writer's <PREFIX>_REPLICAS is rendered from its replicas value: an HPA changing the
		// number of pods would leave it wrong; the filter and the generator have no use for one.
		c.errorf("HorizontalPodAutoscaler %s: no app may be autoscaled (the writers' *_REPLICAS is the replicas value)", h.Name)
	}
	for app, want := range expect {
		if w := m.workloads[app]; w != nil && w.replicas != want {
			c.errorf("%s: %d replicas, expected %d", w.where(), w.replicas, want)
		}
	}
	for _, w := range m.workloads {
		if w.replicas < 1 || w.replicas > maxPartitions {
			c.errorf("%s: %d replicas, expected 1 to %d", w.where(), w.replicas, maxPartitions)
		}
		if s := w.statefulSet; s != nil {
			if len(w.name) > maxStatefulSetName {
				c.errorf("%s: the name has %d characters, at most %d fit the pods' controller-revision-hash label", w.where(), len(w.name), maxStatefulSetName)
			}
			if last := fmt.Sprintf("%s-%d", w.name, w.replicas-1); len(validation.IsDNS1123Label(last)) > 0 {
				c.errorf("%s: pod name %s is not a valid DNS label", w.where(), last)
			}
			if s.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
				c.errorf("%s: updateStrategy OnDelete never rolls out a new version", w.where())
			}
			found := false
			for _, svc := range m.services {
				found = found || svc.Name == s.Spec.ServiceName
			}
			if !found {
				c.errorf("%s: serviceName %q is not a rendered Service", w.where(), s.Spec.ServiceName)
			}
		}
	}
}

// checkFilter: the filter's replicas, strategy and output volume agree with its topology.
//   - RECORD_PARTITIONS 1: the filter appends to its files itself, so exactly one pod, and never two
//     at once (Recreate).
//   - RECORD_PARTITIONS > 1: every replica runs a file writer on the partition directories
//     FILTER_OUTPUT_DIR/<p>, fenced by a lock file inside each, so all replicas mount one
//     ReadWriteMany claim. On such a claim the filter rolls out with maxUnavailable 0 and a surge
//     (ingest never stops); on a claim only one node may mount it stays a single pod with Recreate.
//     Several replicas also need a PodDisruptionBudget and the hostname anti-affinity, which
//     checkDisruption asserts for every app.
func (c *checker) checkFilter(m *manifests) {
	w := m.workloads["filter"]
	if w == nil || w.deployment == nil {
		return // checkWorkloads reports a missing filter or the wrong kind
	}
	where := w.where()
	if w.replicas < 1 || w.replicas > maxFilterReplicas {
		c.errorf("%s: %d replicas, expected 1 to %d", where, w.replicas, maxFilterReplicas)
	}
	ctr := w.container()
	env := m.env(ctr)

	// The output directory's volume: a claim shared by every pod of the Deployment.
	dir := env["FILTER_OUTPUT_DIR"]
	var claim *corev1.PersistentVolumeClaim
	onClaim := false
	for _, vm := range ctr.VolumeMounts {
		if dir == "" || path.Clean(vm.MountPath) != path.Clean(dir) {
			continue
		}
		for _, v := range w.spec().Volumes {
			if v.Name == vm.Name && v.PersistentVolumeClaim != nil {
				onClaim = true
				claim = m.pvcs[v.PersistentVolumeClaim.ClaimName] // nil: not rendered (checkWorkloads says so)
			}
		}
		if vm.ReadOnly || vm.SubPath != "" || vm.SubPathExpr != "" {
			c.errorf("%s: the output volume must be mounted writable, without subPath", where)
		}
	}
	if !onClaim {
		c.errorf("%s: FILTER_OUTPUT_DIR %q is not the mount path of a PersistentVolumeClaim", where, dir)
	}
	shared := false
	modes := "unknown"
	if claim != nil {
		modes = fmt.Sprint(claim.Spec.AccessModes)
		for _, mode := range claim.Spec.AccessModes {
			shared = shared || mode == corev1.ReadWriteMany
		}
	}

	partitions, err := strconv.Atoi(env["RECORD_PARTITIONS"])
	if err != nil {
		return // checkPartitions reports it
	}
	strategy := w.deployment.Spec.Strategy
	recreate := strategy.Type == appsv1.RecreateDeploymentStrategyType
	if partitions == 1 {
		if w.replicas != 1 {
			c.errorf("%s: %d replicas with RECORD_PARTITIONS 1: the filter appends to its files itself, so exactly 1 may run", where, w.replicas)
		}
		if !recreate {
			c.errorf("%s: strategy %q with RECORD_PARTITIONS 1: must be Recreate (two filters would append to the same files)", where, strategy.Type)
		}
		return
	}
	if claim != nil && !shared {
		if w.replicas > 1 {
			c.errorf("%s: %d replicas on a %s claim: every filter replica mounts the same output directory, which needs ReadWriteMany", where, w.replicas, modes)
		}
		if !recreate {
			c.errorf("%s: strategy %q on a %s claim: the surge pod may not mount it, so Recreate", where, strategy.Type, modes)
		}
		return
	}
	if !shared && w.replicas == 1 && recreate {
		return // an existing claim of unknown access mode, one filter
	}
	// Several filters, or a ReadWriteMany claim: a rollout must never stop ingest.
	ru := strategy.RollingUpdate
	switch {
	case recreate || (strategy.Type != "" && strategy.Type != appsv1.RollingUpdateDeploymentStrategyType):
		c.errorf("%s: strategy %q with RECORD_PARTITIONS %d and %d replicas on a %s claim: expected RollingUpdate with maxUnavailable 0 and maxSurge 1", where, strategy.Type, partitions, w.replicas, modes)
	case ru == nil || ru.MaxUnavailable == nil || !isZero(*ru.MaxUnavailable):
		c.errorf("%s: the rolling update must set maxUnavailable 0 (a rollout never stops ingest), found %v", where, describeRollingUpdate(ru))
	case ru.MaxSurge == nil || surge(*ru.MaxSurge, w.replicas) < 1:
		c.errorf("%s: the rolling update needs a maxSurge of at least 1 with maxUnavailable 0, found %v", where, describeRollingUpdate(ru))
	}
}

// isZero tells whether a maxUnavailable is 0 for any replica count (0 or "0%").
func isZero(v intstr.IntOrString) bool {
	return (v.Type == intstr.Int && v.IntVal == 0) || (v.Type == intstr.String && v.StrVal == "0%")
}

// surge is a maxSurge scaled to replicas as the Deployment controller does (rounding up).
func surge(v intstr.IntOrString, replicas int32) int {
	n, err := intstr.GetScaledValueFromIntOrPercent(&v, int(replicas), true)
	if err != nil {
		return 0
	}
	return n
}

func describeRollingUpdate(ru *appsv1.RollingUpdateDeployment) string {
	if ru == nil {
		return "no rollingUpdate"
	}
	show := func(v *intstr.IntOrString) string {
		if v == nil {
			return "unset"
		}
		return v.String()
	}
	return fmt.Sprintf("maxUnavailable %s, maxSurge %s", show(ru.MaxUnavailable), show(ru.MaxSurge))
}

// checkPartitions: every app that touches the broker declares the same topology.
func (c *checker) checkPartitions(m *manifests, expected int) {
	seen := map[string][]string{}
	for _, app := range brokerApps {
		w := m.workloads[app]
		if w == nil {
			continue
		}
		value, ok := m.env(w.container())["RECORD_PARTITIONS"]
		n, err := strconv.Atoi(value)
		switch {
		case !ok:
			c.errorf("%s: RECORD_PARTITIONS is not set", w.where())
		case envVar(w.container(), "RECORD_PARTITIONS") != nil:
			// The ConfigMap's value is what the pods' config checksum covers; an env entry would
			// override it for this app alone.
			c.errorf("%s: RECORD_PARTITIONS must come from its ConfigMap, not an env entry", w.where())
		case err != nil || n < 1 || n > maxPartitions:
			c.errorf("%s: RECORD_PARTITIONS %q is not an integer from 1 to %d", w.where(), value, maxPartitions)
		case expected != 0 && n != expected:
			c.errorf("%s: RECORD_PARTITIONS is %d, expected %d", w.where(), n, expected)
		}
		seen[value] = append(seen[value], app)
	}
	if len(seen) > 1 {
		c.errorf("the broker apps disagree on RECORD_PARTITIONS: %v", seen)
	}
	if w := m.workloads["generator"]; w != nil {
		if _, ok := m.env(w.container())["RECORD_PARTITIONS"]; ok {
			c.errorf("%s: the generator does not touch the broker, yet gets RECORD_PARTITIONS", w.where())
		}
	}
}

// checkWriters: stable ordinals from the pod-index label, REPLICAS equal to the replica count, and
// no more writers than partitions (beyond that a writer prefers no partition).
func (c *checker) checkWriters(m *manifests) {
	for app, prefix := range writerPrefix {
		w := m.workloads[app]
		if w == nil {
			continue
		}
		ctr := w.container()
		ordinal, replicas := prefix+"_ORDINAL", prefix+"_REPLICAS"
		if got := fieldRef(ctr, ordinal); got != podIndexField {
			c.errorf("%s: %s must come from the downward API field %s, found %q", w.where(), ordinal, podIndexField, got)
		}
		if m.fromConfigMap(ctr, ordinal) {
			c.errorf("%s: %s is also set in its ConfigMap", w.where(), ordinal)
		}
		if got := m.env(ctr)[replicas]; got != strconv.Itoa(int(w.replicas)) {
			c.errorf("%s: %s is %q, expected the replica count %d", w.where(), replicas, got, w.replicas)
		}
		env := m.env(ctr)
		if p, err := strconv.Atoi(env["RECORD_PARTITIONS"]); err == nil && p > 1 && int(w.replicas) > p {
			c.errorf("%s: %d replicas for %d partitions: writers %d to %d would prefer no partition", w.where(), w.replicas, p, p, w.replicas-1)
		}
	}
}

// checkGenerator: each pod is a source of its own (GENERATOR_ID = the pod's name) with its seq state
// on a claim of its own.
func (c *checker) checkGenerator(m *manifests) {
	w := m.workloads["generator"]
	if w == nil || w.statefulSet == nil {
		return
	}
	ctr := w.container()
	if got := fieldRef(ctr, "GENERATOR_ID"); got != "metadata.name" {
		c.errorf("%s: GENERATOR_ID must come from the downward API field metadata.name, found %q", w.where(), got)
	}
	if m.fromConfigMap(ctr, "GENERATOR_ID") {
		c.errorf("%s: GENERATOR_ID is also set in its ConfigMap", w.where())
	}
	for ordinal := int32(0); ordinal < w.replicas; ordinal++ {
		if pod := fmt.Sprintf("%s-%d", w.name, ordinal); !sourcePattern.MatchString(pod) {
			c.errorf("%s: pod name %s does not match the source pattern %s", w.where(), pod, sourcePattern)
		}
	}
	dir := m.env(ctr)["GENERATOR_STATE_DIR"]
	claims := map[string]*corev1.PersistentVolumeClaim{}
	for i := range w.statefulSet.Spec.VolumeClaimTemplates {
		t := &w.statefulSet.Spec.VolumeClaimTemplates[i]
		claims[t.Name] = t
	}
	onClaim := false
	for _, vm := range ctr.VolumeMounts {
		if path.Clean(vm.MountPath) != path.Clean(dir) {
			continue
		}
		t := claims[vm.Name]
		if t == nil {
			c.errorf("%s: GENERATOR_STATE_DIR %s is mounted from volume %s, not from a volumeClaimTemplate", w.where(), dir, vm.Name)
			continue
		}
		onClaim = true
		if vm.ReadOnly || vm.SubPath != "" {
			c.errorf("%s: the state volume must be mounted writable, without subPath", w.where())
		}
		if len(t.Spec.AccessModes) == 0 || t.Spec.Resources.Requests.Storage().IsZero() {
			c.errorf("%s: volumeClaimTemplate %s needs an access mode and a storage request", w.where(), t.Name)
		}
	}
	if dir == "" || !onClaim {
		c.errorf("%s: GENERATOR_STATE_DIR %q is not the mount path of a volumeClaimTemplate", w.where(), dir)
	}
	// A deleted claim would make the next pod of that name reuse its source's seq numbers.
	if p := w.statefulSet.Spec.PersistentVolumeClaimRetentionPolicy; p != nil &&
		(p.WhenDeleted == appsv1.DeletePersistentVolumeClaimRetentionPolicyType || p.WhenScaled == appsv1.DeletePersistentVolumeClaimRetentionPolicyType) {
		c.errorf("%s: the seq state claims must be retained (persistentVolumeClaimRetentionPolicy Retain)", w.where())
	}
}

// selectsApp returns the apps whose pod templates a selector matches.
func selectsApps(m *manifests, sel labels.Selector) []string {
	var out []string
	for app, w := range m.workloads {
		if sel.Matches(labels.Set(w.template.Labels)) {
			out = append(out, app)
		}
	}
	sort.Strings(out)
	return out
}

// allowedDisruptions is how many of replicas pods a PDB lets a drain evict at once.
func allowedDisruptions(p *policyv1.PodDisruptionBudget, replicas int32) (int, error) {
	switch {
	case p.Spec.MaxUnavailable != nil:
		return intstr.GetScaledValueFromIntOrPercent(p.Spec.MaxUnavailable, int(replicas), true)
	case p.Spec.MinAvailable != nil:
		minimum, err := intstr.GetScaledValueFromIntOrPercent(p.Spec.MinAvailable, int(replicas), true)
		return int(replicas) - minimum, err
	}
	return 0, fmt.Errorf("neither minAvailable nor maxUnavailable")
}

// checkDisruption: one PDB per app, selecting that app's pods only and letting a drain evict
// exactly one of them at a time (none would block drains, more would take a partition's active
// writer and its standby together); and, for an app with several replicas, a pod anti-affinity on
// the hostname between its own pods, so that one node holds as few of them as possible.
func (c *checker) checkDisruption(m *manifests) {
	for _, p := range m.pdbs {
		if p.Spec.MinAvailable != nil && p.Spec.MaxUnavailable != nil {
			c.errorf("PodDisruptionBudget %s sets both minAvailable and maxUnavailable", p.Name)
		}
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil || p.Spec.Selector == nil || sel.Empty() {
			c.errorf("PodDisruptionBudget %s: invalid or empty selector", p.Name)
			continue
		}
		if selected := selectsApps(m, sel); len(selected) != 1 {
			c.errorf("PodDisruptionBudget %s must select the pods of exactly one app, selects %v", p.Name, selected)
		}
	}
	for app, w := range m.workloads {
		var covering []*policyv1.PodDisruptionBudget
		for _, p := range m.pdbs {
			if sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector); err == nil && p.Spec.Selector != nil && !sel.Empty() &&
				sel.Matches(labels.Set(w.template.Labels)) {
				covering = append(covering, p)
			}
		}
		if len(covering) != 1 {
			c.errorf("app %s: expected one PodDisruptionBudget selecting its pods, found %d", app, len(covering))
		} else if n, err := allowedDisruptions(covering[0], w.replicas); err != nil || n != 1 {
			c.errorf("PodDisruptionBudget %s: lets a drain evict %d of the %d pods of %s at once (%v), expected exactly 1",
				covering[0].Name, n, w.replicas, app, err)
		}
		if w.replicas > 1 && !c.hasHostAntiAffinity(m, w) {
			c.errorf("%s: %d replicas without a pod anti-affinity on %s selecting exactly its own pods", w.where(), w.replicas, hostnameKey)
		}
	}
}

func (c *checker) hasHostAntiAffinity(m *manifests, w *workload) bool {
	a := w.spec().Affinity
	if a == nil || a.PodAntiAffinity == nil {
		return false
	}
	terms := append([]corev1.PodAffinityTerm(nil), a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution...)
	for _, weighted := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		if weighted.Weight > 0 {
			terms = append(terms, weighted.PodAffinityTerm)
		}
	}
	for _, t := range terms {
		if t.TopologyKey != hostnameKey || t.LabelSelector == nil || len(t.Namespaces) > 0 || t.NamespaceSelector != nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
		if err != nil || sel.Empty() {
			continue
		}
		if selected := selectsApps(m, sel); len(selected) == 1 && selected[0] == w.app {
			return true
		}
	}
	return false
}

func (c *checker) checkServices(m *manifests) {
	for app, w := range m.workloads {
		n := 0
		for _, s := range m.services {
			if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(w.template.Labels)) {
				n++
				for _, p := range s.Spec.Ports {
					found := false
					for _, cp := range w.container().Ports {
						found = found || (p.TargetPort.StrVal != "" && cp.Name == p.TargetPort.StrVal) ||
							(p.TargetPort.StrVal == "" && cp.ContainerPort == p.TargetPort.IntVal)
					}
					if !found {
						c.errorf("Service %s: targetPort %s is not a port of %s", s.Name, p.TargetPort.String(), w.name)
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
	for app, w := range m.workloads {
		file, set := m.env(w.container())["FILTER_RULES_FILE"]
		if app != "filter" {
			if set {
				c.errorf("%s gets FILTER_RULES_FILE", w.where())
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
		spec := w.spec()
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
			c.errorf("filter: ConfigMap %s is not a volume of %s", rulesMaps[0], w.name)
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
	for app, w := range m.workloads {
		env := m.env(w.container())
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
