from django.shortcuts import redirect, render

from .forms import EntryForm
from .models import Entry


def index(request):
    if request.method == 'POST':
        form = EntryForm(request.POST)
        if form.is_valid():
            form.save()
            return redirect('index')  # redirect after POST
        status = 400
    else:
        form = EntryForm()
        status = 200
    entries = Entry.objects.all()[:50]
    return render(request, 'guestbook/index.html', {'form': form, 'entries': entries}, status=status)
