package main

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// fixture builds the scale-out shape the chart renders (4 generators, 3 filters on one
// ReadWriteMany claim, 3 of each writer, 8 partitions), reduced to what the scale-out checks read;
// each test breaks one thing.
func fixture() *manifests {
	m := &manifests{workloads: map[string]*workload{}, configMaps: map[string]*corev1.ConfigMap{},
		pvcs: map[string]*corev1.PersistentVolumeClaim{}}
	replicas := map[string]int32{"generator": 4, "filter": 3, "db-writer": 3, "mongo-writer": 3}
	for _, app := range apps {
		name := "rel-dataflow-" + app
		podLabels := map[string]string{"app.kubernetes.io/instance": "rel", "app.kubernetes.io/component": app}
		data := map[string]string{}
		ctr := corev1.Container{Name: app, EnvFrom: []corev1.EnvFromSource{
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}},
		}}
		if app != "generator" {
			data["RECORD_PARTITIONS"] = "8"
		}
		if prefix := writerPrefix[app]; prefix != "" {
			data[prefix+"_REPLICAS"] = "3"
			ctr.Env = append(ctr.Env, corev1.EnvVar{Name: prefix + "_ORDINAL", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: podIndexField}}})
		}
		w := &workload{kind: kindOf[app], name: name, app: app, replicas: replicas[app],
			selector: &metav1.LabelSelector{MatchLabels: podLabels},
			template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: podLabels}}}
		w.template.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 100,
				PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: hostnameKey,
					LabelSelector: &metav1.LabelSelector{MatchLabels: podLabels}}}}}}
		if app == "generator" {
			data["GENERATOR_STATE_DIR"] = "/app/data/generator"
			ctr.Env = append(ctr.Env, corev1.EnvVar{Name: "GENERATOR_ID", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}})
			ctr.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/app/data/generator"}}
		}
		if app == "filter" {
			data["FILTER_OUTPUT_DIR"] = "/app/data/filtered"
			ctr.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/app/data/filtered"}}
			w.template.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}}}
			m.pvcs[name] = &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}}}
		}
		w.template.Spec.Containers = []corev1.Container{ctr}
		if w.kind == "StatefulSet" {
			w.statefulSet = &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: name}}
			if app == "generator" {
				w.statefulSet.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{
					ObjectMeta: metav1.ObjectMeta{Name: "data"},
					Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
						Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("64Mi")}}},
				}}
			}
		} else {
			zero, one := intstr.FromInt32(0), intstr.FromInt32(1)
			w.deployment = &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: appsv1.DeploymentSpec{Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
					RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &zero, MaxSurge: &one}}}}
		}
		m.workloads[app] = w
		m.configMaps[name] = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: data}
		one := intstr.FromInt32(1)
		m.pdbs = append(m.pdbs, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &one, Selector: &metav1.LabelSelector{MatchLabels: podLabels}}})
	}
	return m
}

func scaleOutProblems(m *manifests) []string { return problemsWith(m, 8) }

// problemsWith runs the scale-out checks expecting RECORD_PARTITIONS partitions.
func problemsWith(m *manifests, partitions int) []string {
	c := &checker{}
	c.checkPartitions(m, partitions)
	c.checkWriters(m)
	c.checkFilter(m)
	c.checkGenerator(m)
	c.checkDisruption(m)
	return c.problems
}

// onePartition turns the fixture into the original topology (RECORD_PARTITIONS 1, any writers).
func onePartition(m *manifests) {
	for _, app := range brokerApps {
		m.configMaps["rel-dataflow-"+app].Data["RECORD_PARTITIONS"] = "1"
	}
}

// singleFilter turns the fixture's filter into one pod with strategy Recreate on a claim of mode.
func singleFilter(m *manifests, mode corev1.PersistentVolumeAccessMode) {
	m.workloads["filter"].replicas = 1
	m.workloads["filter"].deployment.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	m.pvcs["rel-dataflow-filter"].Spec.AccessModes = []corev1.PersistentVolumeAccessMode{mode}
}

func filterStrategy(m *manifests) *appsv1.DeploymentStrategy {
	return &m.workloads["filter"].deployment.Spec.Strategy
}

func TestScaleOutFixturePasses(t *testing.T) {
	if problems := scaleOutProblems(fixture()); len(problems) > 0 {
		t.Fatalf("the fixture should pass, got %v", problems)
	}
}

func TestScaleOutFaults(t *testing.T) {
	cases := []struct {
		name    string
		want    string
		breakIt func(m *manifests)
	}{
		{"partitions differ", "disagree on RECORD_PARTITIONS", func(m *manifests) {
			m.configMaps["rel-dataflow-mongo-writer"].Data["RECORD_PARTITIONS"] = "4"
		}},
		{"partitions missing", "RECORD_PARTITIONS is not set", func(m *manifests) {
			delete(m.configMaps["rel-dataflow-filter"].Data, "RECORD_PARTITIONS")
		}},
		{"partitions from an env entry", "not an env entry", func(m *manifests) {
			ctr := m.workloads["db-writer"].container()
			ctr.Env = append(ctr.Env, corev1.EnvVar{Name: "RECORD_PARTITIONS", Value: "8"})
		}},
		{"partitions out of range", "not an integer from 1 to 64", func(m *manifests) {
			for _, app := range brokerApps {
				m.configMaps["rel-dataflow-"+app].Data["RECORD_PARTITIONS"] = "65"
			}
		}},
		{"the generator gets partitions", "does not touch the broker", func(m *manifests) {
			m.configMaps["rel-dataflow-generator"].Data["RECORD_PARTITIONS"] = "8"
		}},
		{"replicas env differs", "DB_WRITER_REPLICAS is \"2\"", func(m *manifests) {
			m.configMaps["rel-dataflow-db-writer"].Data["DB_WRITER_REPLICAS"] = "2"
		}},
		{"ordinal from the pod name", "MONGO_WRITER_ORDINAL must come", func(m *manifests) {
			m.workloads["mongo-writer"].container().Env[0].ValueFrom.FieldRef.FieldPath = "metadata.name"
		}},
		{"more writers than partitions", "would prefer no partition", func(m *manifests) {
			m.workloads["db-writer"].replicas = 9
			m.configMaps["rel-dataflow-db-writer"].Data["DB_WRITER_REPLICAS"] = "9"
		}},
		{"a fixed generator id", "GENERATOR_ID must come", func(m *manifests) {
			m.workloads["generator"].container().Env[0] = corev1.EnvVar{Name: "GENERATOR_ID", Value: "generator-1"}
		}},
		{"state not on a claim template", "not from a volumeClaimTemplate", func(m *manifests) {
			m.workloads["generator"].statefulSet.Spec.VolumeClaimTemplates[0].Name = "other"
		}},
		{"claims deleted on scale-down", "must be retained", func(m *manifests) {
			m.workloads["generator"].statefulSet.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.DeletePersistentVolumeClaimRetentionPolicyType}
		}},
		{"a PDB allowing two evictions", "expected exactly 1", func(m *manifests) {
			two := intstr.FromInt32(2)
			m.pdbs[2].Spec.MaxUnavailable = &two
		}},
		{"a PDB blocking drains", "expected exactly 1", func(m *manifests) {
			m.pdbs[0].Spec.MaxUnavailable = nil
			all := intstr.FromString("100%")
			m.pdbs[0].Spec.MinAvailable = &all
		}},
		{"a PDB selecting every app", "exactly one app", func(m *manifests) {
			m.pdbs[1].Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/instance": "rel"}}
		}},
		{"no anti-affinity", "without a pod anti-affinity", func(m *manifests) {
			m.workloads["generator"].template.Spec.Affinity = nil
		}},
		{"anti-affinity on the zone", "without a pod anti-affinity", func(m *manifests) {
			term := &m.workloads["mongo-writer"].template.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0]
			term.PodAffinityTerm.TopologyKey = "topology.kubernetes.io/zone"
		}},
		{"anti-affinity towards another app", "without a pod anti-affinity", func(m *manifests) {
			term := &m.workloads["db-writer"].template.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0]
			term.PodAffinityTerm.LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/component": "filter"}}
		}},
		{"several filters with one partition", "with RECORD_PARTITIONS 1: the filter appends to its files itself", onePartition},
		{"a rolling single filter with one partition", "must be Recreate", func(m *manifests) {
			onePartition(m)
			m.workloads["filter"].replicas = 1
		}},
		{"17 filters", "expected 1 to 16", func(m *manifests) { m.workloads["filter"].replicas = 17 }},
		{"several filters recreated", "expected RollingUpdate with maxUnavailable 0", func(m *manifests) {
			*filterStrategy(m) = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		}},
		{"a filter rollout taking a pod down first", "must set maxUnavailable 0", func(m *manifests) {
			one := intstr.FromInt32(1)
			filterStrategy(m).RollingUpdate.MaxUnavailable = &one
		}},
		{"a filter rollout with the default maxUnavailable", "must set maxUnavailable 0", func(m *manifests) {
			filterStrategy(m).RollingUpdate = nil
		}},
		{"a filter rollout without a surge", "maxSurge of at least 1", func(m *manifests) {
			zero := intstr.FromString("0%")
			filterStrategy(m).RollingUpdate.MaxSurge = &zero
		}},
		{"several filters on a ReadWriteOnce claim", "needs ReadWriteMany", func(m *manifests) {
			m.pvcs["rel-dataflow-filter"].Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
		}},
		{"a rolling single filter on a ReadWriteOnce claim", "the surge pod may not mount it", func(m *manifests) {
			m.workloads["filter"].replicas = 1
			m.pvcs["rel-dataflow-filter"].Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
		}},
		{"the filter's output on an emptyDir", "is not the mount path of a PersistentVolumeClaim", func(m *manifests) {
			m.workloads["filter"].template.Spec.Volumes[0].VolumeSource = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
		}},
		{"the filter's output elsewhere", "is not the mount path of a PersistentVolumeClaim", func(m *manifests) {
			m.configMaps["rel-dataflow-filter"].Data["FILTER_OUTPUT_DIR"] = "/tmp/filtered"
		}},
		{"several filters without a PDB", "app filter: expected one PodDisruptionBudget", func(m *manifests) {
			m.pdbs = append(m.pdbs[:1], m.pdbs[2:]...)
		}},
		{"several filters without anti-affinity", "without a pod anti-affinity", func(m *manifests) {
			m.workloads["filter"].template.Spec.Affinity = nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := fixture()
			tc.breakIt(m)
			problems := scaleOutProblems(m)
			for _, p := range problems {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Fatalf("expected a problem containing %q, got %v", tc.want, problems)
		})
	}
}

func TestSingleReplicaNeedsNoAntiAffinity(t *testing.T) {
	m := fixture()
	m.workloads["filter"].replicas = 1
	m.workloads["filter"].template.Spec.Affinity = nil
	if problems := scaleOutProblems(m); len(problems) > 0 {
		t.Fatalf("a single filter needs no anti-affinity, got %v", problems)
	}
}

// The single-filter shapes the chart renders pass: the original topology, and partitions > 1 on a
// claim only one node may mount (or a ReadWriteMany one, still rolling with a surge).
func TestSingleFilterShapes(t *testing.T) {
	cases := []struct {
		name       string
		partitions int
		shape      func(m *manifests)
	}{
		{"one partition, ReadWriteOnce, Recreate", 1, func(m *manifests) { onePartition(m); singleFilter(m, corev1.ReadWriteOnce) }},
		{"one partition, ReadWriteMany, Recreate", 1, func(m *manifests) { onePartition(m); singleFilter(m, corev1.ReadWriteMany) }},
		{"8 partitions, ReadWriteOnce, Recreate", 8, func(m *manifests) { singleFilter(m, corev1.ReadWriteOnce) }},
		{"8 partitions, ReadWriteOncePod, Recreate", 8, func(m *manifests) { singleFilter(m, corev1.ReadWriteOncePod) }},
		{"8 partitions, ReadWriteMany, RollingUpdate", 8, func(m *manifests) { m.workloads["filter"].replicas = 1 }},
		{"8 partitions, 16 filters", 8, func(m *manifests) { m.workloads["filter"].replicas = 16 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := fixture()
			tc.shape(m)
			if problems := problemsWith(m, tc.partitions); len(problems) > 0 {
				t.Fatalf("expected no problem, got %v", problems)
			}
		})
	}
}

func TestAllowedDisruptions(t *testing.T) {
	pdb := func(minAvailable, maxUnavailable *intstr.IntOrString) *policyv1.PodDisruptionBudget {
		return &policyv1.PodDisruptionBudget{Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: minAvailable, MaxUnavailable: maxUnavailable}}
	}
	ref := func(v intstr.IntOrString) *intstr.IntOrString { return &v }
	cases := []struct {
		pdb      *policyv1.PodDisruptionBudget
		replicas int32
		want     int
	}{
		{pdb(nil, ref(intstr.FromInt32(1))), 1, 1},
		{pdb(nil, ref(intstr.FromInt32(1))), 3, 1},
		{pdb(ref(intstr.FromInt32(1)), nil), 1, 0},
		{pdb(ref(intstr.FromInt32(2)), nil), 3, 1},
		{pdb(nil, ref(intstr.FromString("50%"))), 3, 2},
	}
	for _, tc := range cases {
		if got, err := allowedDisruptions(tc.pdb, tc.replicas); err != nil || got != tc.want {
			t.Errorf("%+v with %d replicas: got %d (%v), want %d", tc.pdb.Spec, tc.replicas, got, err, tc.want)
		}
	}
	if _, err := allowedDisruptions(pdb(nil, nil), 1); err == nil {
		t.Errorf("a PDB without a bound should be an error")
	}
}

func TestReplicaFlag(t *testing.T) {
	f := replicaFlag{}
	if err := f.Set("generator=4,db-writer=3"); err != nil || f["generator"] != 4 || f["db-writer"] != 3 {
		t.Fatalf("got %v, %v", f, err)
	}
	for _, bad := range []string{"generator", "generator=x", "nope=1"} {
		if err := (replicaFlag{}).Set(bad); err == nil {
			t.Errorf("%q should be refused", bad)
		}
	}
}
