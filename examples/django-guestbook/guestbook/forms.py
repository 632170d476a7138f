from django import forms

from .models import Entry


class EntryForm(forms.ModelForm):
    class Meta:
        model = Entry
        fields = ['name', 'message']
        widgets = {'message': forms.Textarea(attrs={'rows': 4})}
