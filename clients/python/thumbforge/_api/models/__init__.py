"""Contains all the data models used in inputs/outputs"""

from .aspect_ratio import AspectRatio
from .asset_body import AssetBody
from .asset_list import AssetList
from .attempt_body import AttemptBody
from .bulk_body import BulkBody
from .bulk_report import BulkReport
from .bulk_result import BulkResult
from .delivery_body import DeliveryBody
from .delivery_list import DeliveryList
from .delivery_status import DeliveryStatus
from .error_code import ErrorCode
from .flokan_error_body import FlokanErrorBody
from .flokan_generate_body import FlokanGenerateBody
from .format_ import Format
from .generate_body import GenerateBody
from .generate_response import GenerateResponse
from .generation_body import GenerationBody
from .generation_completed import GenerationCompleted
from .generation_list import GenerationList
from .generation_status import GenerationStatus
from .job_action import JobAction
from .job_detail import JobDetail
from .job_detail_job import JobDetailJob
from .job_list import JobList
from .job_list_data_item import JobListDataItem
from .job_payload import JobPayload
from .job_payload_style_type_0 import JobPayloadStyleType0
from .key_info import KeyInfo
from .key_list import KeyList
from .model_info import ModelInfo
from .model_list import ModelList
from .new_style import NewStyle
from .problem import Problem
from .progress import Progress
from .provider_progress import ProviderProgress
from .provider_stage_name import ProviderStageName
from .queue_backend import QueueBackend
from .queue_report import QueueReport
from .queue_report_dead_item import QueueReportDeadItem
from .queue_report_overview import QueueReportOverview
from .queue_report_retrying_item import QueueReportRetryingItem
from .search_body import SearchBody
from .secret_body import SecretBody
from .set_key import SetKey
from .stage import Stage
from .stats import Stats
from .stats_minutes_item import StatsMinutesItem
from .style_body import StyleBody
from .style_list import StyleList
from .thumbnail_body import ThumbnailBody
from .thumbnail_ended import ThumbnailEnded
from .thumbnail_status import ThumbnailStatus
from .webhook_events import WebhookEvents
from .webhook_generation import WebhookGeneration
from .webhook_thumbnail import WebhookThumbnail

__all__ = (
    "AspectRatio",
    "AssetBody",
    "AssetList",
    "AttemptBody",
    "BulkBody",
    "BulkReport",
    "BulkResult",
    "DeliveryBody",
    "DeliveryList",
    "DeliveryStatus",
    "ErrorCode",
    "FlokanErrorBody",
    "FlokanGenerateBody",
    "Format",
    "GenerateBody",
    "GenerateResponse",
    "GenerationBody",
    "GenerationCompleted",
    "GenerationList",
    "GenerationStatus",
    "JobAction",
    "JobDetail",
    "JobDetailJob",
    "JobList",
    "JobListDataItem",
    "JobPayload",
    "JobPayloadStyleType0",
    "KeyInfo",
    "KeyList",
    "ModelInfo",
    "ModelList",
    "NewStyle",
    "Problem",
    "Progress",
    "ProviderProgress",
    "ProviderStageName",
    "QueueBackend",
    "QueueReport",
    "QueueReportDeadItem",
    "QueueReportOverview",
    "QueueReportRetryingItem",
    "SearchBody",
    "SecretBody",
    "SetKey",
    "Stage",
    "Stats",
    "StatsMinutesItem",
    "StyleBody",
    "StyleList",
    "ThumbnailBody",
    "ThumbnailEnded",
    "ThumbnailStatus",
    "WebhookEvents",
    "WebhookGeneration",
    "WebhookThumbnail",
)
