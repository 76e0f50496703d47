"""Pieces the apps' admin classes share."""


class ReadOnlyAdminMixin:
    """Staff see these rows and never add or change them in the admin (evidence, history,
    counters the product keeps); nor delete them, unless the class sets `deletable = True`.
    Works for a ModelAdmin and an inline alike."""

    deletable = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.deletable and super().has_delete_permission(request, obj)


class ChangedFieldsOnlyMixin:
    """Saves only what the form changed: a balance or monthly spend read at the start of the
    request must never overwrite what the ledger services wrote meanwhile (under their locks)."""

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=[name for name in form.changed_data if name in {f.name for f in obj._meta.fields}])
        else:
            obj.save()

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for deleted in formset.deleted_objects:
            deleted.delete()
        for inline_form in formset.forms:
            instance = inline_form.instance
            if instance not in instances:
                continue
            if instance.pk and not inline_form.has_changed():
                continue
            if instance._state.adding:
                instance.save()
            else:
                fields = {f.name for f in instance._meta.fields}
                instance.save(update_fields=[name for name in inline_form.changed_data if name in fields])
        formset.save_m2m()
        self._after_formset(request, form, formset)

    def _after_formset(self, request, form, formset) -> None:
        pass
