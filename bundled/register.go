package bundled

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"rustexpert/store"
)

// adapters are the bundled fine-tunes of the base model: name, folder under
// the models folder, parent, notes.
var adapters = []struct{ name, dir, parent, notes string }{
	{"v1", "v1", "base", "SFT LoRA adapter on the bundled base (see models/v1/README.md)"},
	{"v2", "v2", "v1", "DPO LoRA adapter trained from v1 (see models/v2/README.md)"},
}

// Names lists the registry names of the bundled models: the base, then its
// adapters (each registered only where its files are present).
func Names() []string {
	names := []string{Base.Name}
	for _, a := range adapters {
		names = append(names, a.name)
	}
	return names
}

// Register adds the bundled models found in modelsDir to the registry (by
// absolute path, so the server may start from any folder later), once: a
// model whose name is taken is left alone. It returns the names it added.
func Register(ctx context.Context, st *store.Store, modelsDir string) ([]string, error) {
	dir, err := filepath.Abs(modelsDir)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(dir, filepath.FromSlash(Base.Path))
	if _, err := os.Stat(base); err != nil {
		return nil, nil
	}
	inputs := []store.ModelInput{{Name: Base.Name, Provider: store.ProviderBuiltin, Base: base, Notes: Base.Notes}}
	parents := []string{""}
	for _, a := range adapters {
		adapter := filepath.Join(dir, a.dir)
		if _, err := os.Stat(filepath.Join(adapter, "adapter_config.json")); err == nil {
			inputs = append(inputs, store.ModelInput{Name: a.name, Provider: store.ProviderBuiltin, Base: base, Adapter: adapter, Notes: a.notes})
			parents = append(parents, a.parent)
		}
	}
	var added []string
	for i, in := range inputs {
		if parent, err := st.ModelByName(ctx, parents[i]); err == nil {
			in.ParentID = parent.ID
		}
		ok, err := add(ctx, st, in)
		if err != nil {
			return added, err
		}
		if ok {
			added = append(added, in.Name)
		}
	}
	return added, nil
}

// add registers in unless its name is taken.
func add(ctx context.Context, st *store.Store, in store.ModelInput) (bool, error) {
	if _, err := st.ModelByName(ctx, in.Name); err == nil {
		return false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	_, err := st.CreateModel(ctx, in)
	if errors.Is(err, store.ErrConflict) {
		return false, nil
	}
	return err == nil, err
}
