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
