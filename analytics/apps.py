from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"

    def ready(self) -> None:
        # Analytics subscribes to the writers (they never import it): issue 15, item 2.
        from analytics import receivers
        from analytics.services import GENERATION_KEY
        from core.ops.caching import register_generation_namespace
        from core.signals import reporting_data_changed
        from sales.signals import sales_contribution

        reporting_data_changed.connect(
            receivers.bump_cache_on_commit, dispatch_uid="analytics.bump_cache_on_commit"
        )
        sales_contribution.connect(
            receivers.apply_sales_contribution, dispatch_uid="analytics.apply_sales_contribution"
        )
        register_generation_namespace("analytics", GENERATION_KEY)
