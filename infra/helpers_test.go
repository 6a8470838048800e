package infra

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Test harness: runs LoadConfig + NewLab against Pulumi mocks and records
// every registered resource (type token, logical name, parent, dependencies
// and inputs) so tests can look objects up by kind, namespace and name.

const testPassword = "t3st-minio-passw0rd"

// baseConfig is the smallest valid configuration: only the required secret.
func baseConfig() map[string]string {
	return map[string]string{"lab5:minioRootPassword": testPassword, "lab5:imageRepository": testImageRepository}
}

// with returns baseConfig plus the given key/value pairs ("" deletes).
func with(kv ...string) map[string]string {
	c := baseConfig()
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(c, "lab5:"+kv[i])
			continue
		}
		c["lab5:"+kv[i]] = kv[i+1]
	}
	return c
}

// secretValue marks a value that was a Pulumi secret.
type secretValue struct{ V any }

// unknownValue marks a value that is not known (preview-only).
type unknownValue struct{}

// k8sObject is one recorded Kubernetes resource.
type k8sObject struct {
	Token      string // e.g. kubernetes:apps/v1:Deployment
	URNName    string // Pulumi logical name
	Parent     string // parent URN
	Deps       []string
	Kind       string
	APIVersion string
	Namespace  string
	Name       string
	Obj        map[string]any // inputs as plain Go values
	// IgnoreChanges is the resource's ignoreChanges option.
	IgnoreChanges []string
	// Aliases are the resource's aliases given as full URNs.
	Aliases []string
	// RetainOnDelete is the resource's retainOnDelete option.
	RetainOnDelete bool
}

func (o *k8sObject) key() string { return fmt.Sprintf("%s %s/%s", o.Kind, o.Namespace, o.Name) }

// dig follows a path such as "spec.template.spec.containers[0].env" and
// returns the value there (nil if absent). Secrets are unwrapped.
func (o *k8sObject) dig(path string) any { return dig(o.Obj, path) }

// str returns the string at path, "" if absent or not a string.
func (o *k8sObject) str(path string) string {
	s, _ := o.dig(path).(string)
	return s
}

// num returns the number at path, -1 if absent.
func (o *k8sObject) num(path string) int {
	if f, ok := o.dig(path).(float64); ok {
		return int(f)
	}
	return -1
}

func (o *k8sObject) labels(path string) map[string]string {
	return toStringMap(o.dig(path))
}

// expectFields checks each path (dig syntax) of v against its wanted value;
// a nil want means the field is absent.
func expectFields(t *testing.T, what string, v any, want map[string]any) {
	t.Helper()
	for path, w := range want {
		if got := dig(v, path); got != w {
			t.Errorf("%s %s = %v, want %v", what, path, got, w)
		}
	}
}

// single is the one element of the list at path, failing the test unless
// there is exactly one.
func (o *k8sObject) single(t *testing.T, path string) any {
	t.Helper()
	l := toSlice(o.dig(path))
	if len(l) != 1 {
		t.Fatalf("%s %s = %v, want exactly one", o.key(), path, l)
	}
	return l[0]
}

// ingressPolicyRule checks that np selects the pods with labels, is an
// Ingress policy, and has exactly one rule, which it returns.
func ingressPolicyRule(t *testing.T, np *k8sObject, labels map[string]string) any {
	t.Helper()
	if got := np.labels("spec.podSelector.matchLabels"); !reflect.DeepEqual(got, labels) {
		t.Errorf("%s podSelector = %v, want %v", np.key(), got, labels)
	}
	if got := toStrings(np.dig("spec.policyTypes")); !reflect.DeepEqual(got, []string{"Ingress"}) {
		t.Errorf("%s policyTypes = %v", np.key(), got)
	}
	return np.single(t, "spec.ingress")
}

var pathTokenRe = regexp.MustCompile(`([^.\[\]]+)|\[(\d+)\]`)

func dig(v any, path string) any {
	for _, m := range pathTokenRe.FindAllStringSubmatch(path, -1) {
		if s, ok := v.(secretValue); ok {
			v = s.V
		}
		switch {
		case m[2] != "":
			i, _ := strconv.Atoi(m[2])
			arr, ok := v.([]any)
			if !ok || i >= len(arr) {
				return nil
			}
			v = arr[i]
		default:
			obj, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = obj[m[1]]
		}
	}
	if s, ok := v.(secretValue); ok {
		return s.V
	}
	return v
}

// isSecretAt reports whether the value at path, or any value enclosing it,
// was sent as a Pulumi secret.
func isSecretAt(v any, path string) bool {
	for _, m := range pathTokenRe.FindAllStringSubmatch(path, -1) {
		if _, ok := v.(secretValue); ok {
			return true
		}
		if m[2] != "" {
			i, _ := strconv.Atoi(m[2])
			arr, ok := v.([]any)
			if !ok || i >= len(arr) {
				return false
			}
			v = arr[i]
			continue
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return false
		}
		v = obj[m[1]]
	}
	_, ok := v.(secretValue)
	return ok
}

// dependsOn reports whether o was registered with a dependency on dep
// (matched by type token and logical name in the dependency URN).
func dependsOn(o, dep *k8sObject) bool {
	suffix := "$" + dep.Token + "::" + dep.URNName
	for _, d := range o.Deps {
		if strings.HasSuffix(d, suffix) {
			return true
		}
	}
	return false
}

func toStringMap(v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	out := map[string]string{}
	for k, x := range m {
		out[k] = fmt.Sprint(x)
	}
	return out
}

func toSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func toStrings(v any) []string {
	var out []string
	for _, x := range toSlice(v) {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// plain converts a Pulumi property value to plain Go values.
func plain(v resource.PropertyValue) any {
	switch {
	case v.IsNull():
		return nil
	case v.IsBool():
		return v.BoolValue()
	case v.IsNumber():
		return v.NumberValue()
	case v.IsString():
		return v.StringValue()
	case v.IsArray():
		var out []any
		for _, x := range v.ArrayValue() {
			out = append(out, plain(x))
		}
		return out
	case v.IsObject():
		return plainMap(v.ObjectValue())
	case v.IsSecret():
		return secretValue{plain(v.SecretValue().Element)}
	case v.IsComputed():
		return unknownValue{}
	case v.IsOutput():
		o := v.OutputValue()
		if !o.Known {
			return unknownValue{}
		}
		if o.Secret {
			return secretValue{plain(o.Element)}
		}
		return plain(o.Element)
	case v.IsResourceReference():
		return string(v.ResourceReferenceValue().URN)
	}
	return fmt.Sprintf("<unsupported %v>", v)
}

func plainMap(m resource.PropertyMap) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[string(k)] = plain(v)
	}
	return out
}

// component is one recorded ComponentResource.
type component struct {
	Token, Name, Parent string
	Deps                []string
}

// mocks records resources and plays the API server's part where the
// program reads server-set fields back (NodePort allocation).
type mocks struct {
	mu           sync.Mutex
	objects      []*k8sObject
	components   []component
	images       []*k8sObject // goimage resources (not Kubernetes objects)
	patches      []*k8sObject // patches of objects the stack does not create
	nextNodePort int
	allocated    map[string]int // "<ns>/<svc>/<port name>" -> nodePort
	// noAllocation makes NewResource report NodePort Services as given
	// (what the provider does when previewing a create).
	noAllocation bool
}

func newMocks() *mocks {
	return &mocks{nextNodePort: 31080, allocated: map[string]int{}}
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.mu.Lock()
	defer m.mu.Unlock()

	var parent string
	var deps, ignoreChanges, aliases []string
	retain := false
	if args.RegisterRPC != nil {
		retain = args.RegisterRPC.GetRetainOnDelete()
		parent = args.RegisterRPC.GetParent()
		deps = args.RegisterRPC.GetDependencies()
		ignoreChanges = args.RegisterRPC.GetIgnoreChanges()
		for _, a := range args.RegisterRPC.GetAliases() {
			if u := a.GetUrn(); u != "" {
				aliases = append(aliases, u)
			}
		}
	}
	if !args.Custom {
		m.components = append(m.components, component{Token: args.TypeToken, Name: args.Name, Parent: parent, Deps: deps})
		return "", resource.PropertyMap{}, nil
	}

	if args.TypeToken == GoImageType {
		m.images = append(m.images, &k8sObject{Token: args.TypeToken, URNName: args.Name, Parent: parent, Deps: deps, Obj: plainMap(args.Inputs)})
		return args.Name + "-id", mockGoImageOutputs(args.Inputs), nil
	}
	outputs := args.Inputs.Copy()
	obj := &k8sObject{
		Token:          args.TypeToken,
		URNName:        args.Name,
		Parent:         parent,
		Deps:           deps,
		IgnoreChanges:  ignoreChanges,
		Aliases:        aliases,
		RetainOnDelete: retain,
		Obj:            plainMap(args.Inputs),
	}
	obj.Kind = obj.str("kind")
	obj.APIVersion = obj.str("apiVersion")
	obj.Namespace = obj.str("metadata.namespace")
	obj.Name = obj.str("metadata.name")
	if strings.HasSuffix(args.TypeToken, "Patch") {
		m.patches = append(m.patches, obj)
		return args.Name + "-id", outputs, nil
	}

	// Like the API server: a NodePort Service port without a nodePort
	// gets one allocated, and the created object reports it.
	if obj.Kind == "Service" && obj.str("spec.type") == "NodePort" && !m.noAllocation {
		spec := outputs["spec"].ObjectValue().Copy()
		var ports []resource.PropertyValue
		for i, p := range spec["ports"].ArrayValue() {
			pm := p.ObjectValue().Copy()
			if _, ok := pm["nodePort"]; !ok {
				pm["nodePort"] = resource.NewNumberProperty(float64(m.nextNodePort))
				m.nextNodePort++
			}
			name := fmt.Sprint(i)
			if n, ok := pm["name"]; ok {
				name = n.StringValue()
			}
			m.allocated[obj.Namespace+"/"+obj.Name+"/"+name] = int(pm["nodePort"].NumberValue())
			ports = append(ports, resource.NewObjectProperty(pm))
		}
		spec["ports"] = resource.NewArrayProperty(ports)
		outputs["spec"] = resource.NewObjectProperty(spec)
	}

	// Like the API server: every object it makes has a uid.
	if md, ok := outputs["metadata"]; ok && md.IsObject() {
		meta := md.ObjectValue().Copy()
		meta["uid"] = resource.NewStringProperty("uid-" + args.Name)
		outputs["metadata"] = resource.NewObjectProperty(meta)
	}
	m.objects = append(m.objects, obj)
	return args.Name + "-id", outputs, nil
}

// labRun is the result of one program run.
type labRun struct {
	t          *testing.T
	cfg        *Config
	objects    []*k8sObject
	components []component
	images     []*k8sObject
	patches    []*k8sObject
	outputs    map[string]any // Lab.Outputs(), resolved
	allocated  map[string]int
}

// withConfig sets the stack config the way the engine does (the fields
// getEnvInfo fills from PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS),
// without touching the process environment, so tests can run in parallel.
func withConfig(config map[string]string, secretKeys []string) pulumi.RunOption {
	return func(info *pulumi.RunInfo) {
		info.Config = config
		info.ConfigSecretKeys = secretKeys
	}
}

// runProgram runs LoadConfig + NewLab with the given config.
func runProgram(config map[string]string, opts ...pulumi.RunOption) (*labRun, error) {
	return runProgramWith(newMocks(), config, opts...)
}

func runProgramWith(m *mocks, config map[string]string, opts ...pulumi.RunOption) (*labRun, error) {
	r := &labRun{outputs: map[string]any{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		cfg, err := LoadConfig(ctx)
		if err != nil {
			return err
		}
		r.cfg = cfg
		lab, err := NewLab(ctx, "lab5", cfg)
		if err != nil {
			return err
		}
		for k, v := range lab.Outputs() {
			wg.Add(1)
			pulumi.ToOutput(v).ApplyT(func(x any) any {
				defer wg.Done()
				mu.Lock()
				defer mu.Unlock()
				r.outputs[k] = x
				return x
			})
		}
		return nil
	}, append([]pulumi.RunOption{pulumi.WithMocks("lab5", "dev", m), withConfig(config, []string{"lab5:minioRootPassword"})}, opts...)...)
	if err == nil {
		err = waitTimeout(&wg)
	}
	r.objects = m.objects
	r.components = m.components
	r.images = m.images
	r.patches = m.patches
	r.allocated = m.allocated
	return r, err
}

// waitTimeout waits for the output callbacks (they run right after the
// resources resolve); an error after a while rather than a hanging test, or
// a test that goes on with half of the objects recorded.
func waitTimeout(wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("the program's output callbacks did not finish within 10s")
	}
}

// mustRun runs the program and fails the test on error.
func mustRun(t *testing.T, config map[string]string) *labRun {
	t.Helper()
	r, err := runProgram(config)
	if err != nil {
		t.Fatalf("program failed: %v", err)
	}
	r.t = t
	return r
}

// find returns the object of that kind, namespace ("" for cluster-scoped)
// and name.
func (r *labRun) find(kind, namespace, name string) (*k8sObject, bool) {
	for _, o := range r.objects {
		if o.Kind == kind && o.Namespace == namespace && o.Name == name {
			return o, true
		}
	}
	return nil, false
}

// get is find that fails the test when the object is missing.
func (r *labRun) get(kind, namespace, name string) *k8sObject {
	r.t.Helper()
	o, ok := r.find(kind, namespace, name)
	if !ok {
		r.t.Fatalf("%s %s/%s not declared; have:\n%s", kind, namespace, name, strings.Join(r.keys(), "\n"))
	}
	return o
}

func (r *labRun) ofKind(kind string) []*k8sObject {
	var out []*k8sObject
	for _, o := range r.objects {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// keys lists every object as "Kind ns/name", sorted.
func (r *labRun) keys() []string {
	var out []string
	for _, o := range r.objects {
		out = append(out, o.key())
	}
	sort.Strings(out)
	return out
}

// keyDiff compares two runs' objects: removed are the keys only `on`
// declares, added those only `off` declares; both sorted.
func keyDiff(on, off *labRun) (removed, added []string) {
	inOff := map[string]bool{}
	for _, k := range off.keys() {
		inOff[k] = true
	}
	for _, k := range on.keys() {
		if !inOff[k] {
			removed = append(removed, k)
		}
		delete(inOff, k)
	}
	for k := range inOff {
		added = append(added, k)
	}
	sort.Strings(removed)
	sort.Strings(added)
	return removed, added
}

// podSpecPath is where a workload keeps its pod spec.
func podSpecPath(kind string) string {
	switch kind {
	case "Pod":
		return "spec"
	case "Deployment", "StatefulSet", "Job", "DaemonSet", "ReplicaSet":
		return "spec.template.spec"
	case "CronJob":
		return "spec.jobTemplate.spec.template.spec"
	}
	return ""
}

// podLabelsPath is where a workload keeps its pods' labels.
func podLabelsPath(kind string) string {
	switch kind {
	case "Pod":
		return "metadata.labels"
	case "CronJob":
		return "spec.jobTemplate.spec.template.metadata.labels"
	}
	return "spec.template.metadata.labels"
}

// containers returns a workload's containers (nil for other kinds).
func (o *k8sObject) containers() []map[string]any {
	p := podSpecPath(o.Kind)
	if p == "" {
		return nil
	}
	var out []map[string]any
	for _, c := range toSlice(o.dig(p + ".containers")) {
		out = append(out, c.(map[string]any))
	}
	return out
}

// container returns the named container, failing the test if absent.
func (r *labRun) container(o *k8sObject, name string) map[string]any {
	r.t.Helper()
	for _, c := range o.containers() {
		if c["name"] == name {
			return c
		}
	}
	r.t.Fatalf("%s has no container %q", o.key(), name)
	return nil
}

// envVar is one env entry.
type envVar struct {
	Value        string
	SecretName   string
	SecretKey    string
	HasValueFrom bool
}

func envOf(c map[string]any) map[string]envVar {
	out := map[string]envVar{}
	for _, e := range toSlice(c["env"]) {
		em := e.(map[string]any)
		ev := envVar{}
		if v, ok := dig(em, "value").(string); ok {
			ev.Value = v
		}
		if dig(em, "valueFrom") != nil {
			ev.HasValueFrom = true
			ev.SecretName, _ = dig(em, "valueFrom.secretKeyRef.name").(string)
			ev.SecretKey, _ = dig(em, "valueFrom.secretKeyRef.key").(string)
		}
		out[em["name"].(string)] = ev
	}
	return out
}

// subset reports whether every key of sel has the same value in labels.
func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}
